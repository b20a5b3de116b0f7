/* arena.c - bump allocator freed all at once; see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define MIN_CHUNK 4096

/* Under AddressSanitizer (the sanitizer and fuzz builds) a chunk's free
 * space is poisoned and each block is followed by a poisoned red zone, so
 * reading or writing past a block is caught as it is for malloc(). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RB_ARENA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RB_ARENA_ASAN 1
#endif
#ifdef RB_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define REDZONE ALIGN
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define REDZONE 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

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

/* Makes the caller's buffer the current chunk, from an aligned address. */
static void
use_first(struct rb_arena *a)
{
  uintptr_t b = (uintptr_t)a->first;

  a->p = (char *)((b + (ALIGN - 1)) & ~(uintptr_t)(ALIGN - 1));
  a->end = a->first + a->first_size;
}

void
rb_arena_init(struct rb_arena *a, void *buf, size_t size, size_t hint)
{
  memset(a, 0, sizeof(*a));
  if (buf && size >= ALIGN) {
    a->first = buf;
    a->first_size = size;
    use_first(a);
    POISON(a->p, (size_t)(a->end - a->p));
  }
  a->next_size = hint > MIN_CHUNK ? hint : MIN_CHUNK;
}

void *
rb_arena_alloc(struct rb_arena *a, size_t n)
{
  struct rb_arena_chunk *c;
  size_t need = round_up(n ? n : 1) + REDZONE, size;
  char *r;

  if (need < n) /* wrapped */
    return NULL;
  if (a->p && (size_t)(a->end - a->p) >= need) {
    r = a->p;
    a->p += need;
    UNPOISON(r, n);
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
  POISON(c->data + n, size - n);
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
    UNPOISON(c->data, c->size);
    free(c);
  }
  a->chunks = NULL;
  a->allocated = 0;
  a->p = a->end = NULL;
  if (a->first) {
    /* The caller's buffer (its stack) leaves the arena as it came. */
    UNPOISON(a->first, a->first_size);
    use_first(a);
  }
}
