/*
 * arena.h - a bump allocator whose blocks are all freed at once.
 *
 * A webhook's parse tree and its parsed payload are hundreds of small
 * blocks (one per JSON node, name and value) that live exactly as long as
 * the request.  From an arena they cost a few malloc() calls instead of
 * hundreds, never contend for malloc's locks, and go back to the system
 * together (a 10,000-alert delivery leaves no fragments behind).
 *
 * Blocks are 16-byte aligned.  The first chunk may be a buffer of the
 * caller's (on its stack), which is never freed; later chunks come from
 * malloc(), each at least twice the size of the one before, and one of
 * its own for a block larger than that.  Not thread-safe: one arena, one
 * thread at a time.
 */
#ifndef RUNBOOKD_ARENA_H
#define RUNBOOKD_ARENA_H

#include <stddef.h>

struct rb_arena_chunk;

struct rb_arena {
  struct rb_arena_chunk *chunks; /* malloc'd chunks, newest first */
  char *first;                   /* the caller's buffer, or NULL */
  size_t first_size;
  char *p, *end;                 /* free space of the current chunk */
  size_t next_size;              /* the next chunk's size */
  size_t allocated;              /* bytes of chunks malloc'd */
};

/* An empty arena whose first chunk is buf (size bytes; NULL, 0 for none)
 * and whose first malloc'd chunk holds at least hint bytes. */
void rb_arena_init(struct rb_arena *a, void *buf, size_t size, size_t hint);
/* n bytes (not zeroed), or NULL when memory runs out.  n == 0 gives a
 * valid pointer. */
void *rb_arena_alloc(struct rb_arena *a, size_t n);
/* A copy of s[0..n) with a NUL after it; of a C string. */
char *rb_arena_strndup(struct rb_arena *a, const char *s, size_t n);
char *rb_arena_strdup(struct rb_arena *a, const char *s);
/* Whether p points into one of a's chunks. */
int rb_arena_owns(const struct rb_arena *a, const void *p);
/* Frees every malloc'd chunk and empties the arena (it can be used
 * again). */
void rb_arena_free(struct rb_arena *a);

#endif
