/* arena.c - bump allocator freed all at once; see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define MIN_CHUNK 4096

struct rb_arena_chunk {
  struct rb_arena_chunk *next;
  size_t size;      /* bytes of data[] */
  _Alignas(ALIGN) char data[];
};

static size_t
round_up(size_t n)
{
  return (n + (ALIGN - 1)) & ~(size_t)(ALIGN - 1);
}

void
rb_arena_init(struct rb_arena *a, void *buf, size_t size, size_t hint)
{
  memset(a, 0, sizeof(*a));
  if (buf && size >= ALIGN) {
    /* Start the caller's buffer at an aligned address. */
    uintptr_t b = (uintptr_t)buf, s = (b + (ALIGN - 1)) & ~(uintptr_t)(ALIGN - 1);
    a->first = buf;
    a->first_size = size;
    a->p = (char *)s;
    a->end = (char *)buf + size;
  }
  a->next_size = hint > MIN_CHUNK ? hint : MIN_CHUNK;
}

void *
rb_arena_alloc(struct rb_arena *a, size_t n)
{
  struct rb_arena_chunk *c;
  size_t need = round_up(n ? n : 1), size;
  char *r;

  if (need < n) /* wrapped */
    return NULL;
  if (a->p && (size_t)(a->end - a->p) >= need) {
    r = a->p;
    a->p += need;
    return r;
  }
  size = a->next_size;
  if (size < need)
    size = need;
  if (size > SIZE_MAX - sizeof(*c))
    return NULL;
  c = malloc(sizeof(*c) + size);
  if (!c)
    return NULL;
  c->size = size;
  c->next = a->chunks;
  a->chunks = c;
  a->allocated += size;
  if (a->next_size <= SIZE_MAX / 4)
    a->next_size *= 2;
  r = c->data;
  /* A block bigger than the chunk it asked for keeps its chunk to itself,
   * and the space left in the current one stays in use. */
  if (size > need || !a->p || a->end - a->p < ALIGN) {
    a->p = c->data + need;
    a->end = c->data + size;
  }
  return r;
}

char *
rb_arena_strndup(struct rb_arena *a, const char *s, size_t n)
{
  char *r = n + 1 > n ? rb_arena_alloc(a, n + 1) : NULL;

  if (!r)
    return NULL;
  memcpy(r, s, n);
  r[n] = '\0';
  return r;
}

char *
rb_arena_strdup(struct rb_arena *a, const char *s)
{
  return rb_arena_strndup(a, s, strlen(s));
}

int
rb_arena_owns(const struct rb_arena *a, const void *p)
{
  const char *q = p;

  if (a->first && q >= a->first && q < a->first + a->first_size)
    return 1;
  for (const struct rb_arena_chunk *c = a->chunks; c; c = c->next)
    if (q >= c->data && q < c->data + c->size)
      return 1;
  return 0;
}

void
rb_arena_free(struct rb_arena *a)
{
  struct rb_arena_chunk *c = a->chunks, *next;

  for (; c; c = next) {
    next = c->next;
    free(c);
  }
  a->chunks = NULL;
  a->allocated = 0;
  a->p = a->end = NULL;
  if (a->first) {
    uintptr_t b = (uintptr_t)a->first, s = (b + (ALIGN - 1)) & ~(uintptr_t)(ALIGN - 1);
    a->p = (char *)s;
    a->end = a->first + a->first_size;
  }
}
