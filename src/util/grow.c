/* grow.c - the growing array every module appends to (rb.h). */
#include "rb.h"

#include <stdlib.h>
#include <string.h>

rb_status
rb_grow(void **v, size_t *cap, size_t n, size_t sz)
{
  void *p;
  size_t nc;

  if (n < *cap)
    return RB_OK;
  nc = *cap ? *cap * 2 : 16;
  while (nc <= n)
    nc *= 2;
  p = realloc(*v, nc * sz);
  if (!p)
    return RB_ENOMEM;
  memset((char *)p + *cap * sz, 0, (nc - *cap) * sz);
  *v = p;
  *cap = nc;
  return RB_OK;
}
