/* Unit tests for buf.c, arena.c, grow.c and severity.c. */
#include "arena.h"
#include "buf.h"
#include "severity.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

Test(buf, enforces_maximum)
{
  struct buf b;
  buf_init(&b, 8);
  cr_assert_eq(buf_puts(&b, "12345"), RB_OK);
  cr_assert_eq(buf_puts(&b, "6789"), RB_ETOOBIG);
  cr_assert_str_eq(b.data, "12345");
  cr_assert_eq(buf_puts(&b, "678"), RB_OK);
  cr_assert_eq(b.len, 8);
  cr_assert_eq(buf_printf(&b, "%d", 1), RB_ETOOBIG);
  buf_free(&b);
  buf_free(NULL);
}

Test(buf, json_escapes)
{
  struct buf b;
  char *s;
  buf_init(&b, 0);
  buf_json_str(&b, "a\"b\\c\nd\x01");
  s = buf_steal(&b);
  cr_assert_str_eq(s, "\"a\\\"b\\\\c\\nd\\u0001\"");
  free(s);
  cr_assert_null(b.data);
}

/* What is not UTF-8 (a command's binary output, an API's broken error
 * text) becomes U+FFFD, one per bad byte; valid sequences pass as they are. */
Test(buf, json_strings_are_always_utf8)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
    { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
    { "a\xff" "b", "\"a\\ufffdb\"" },                   /* not a lead byte */
    { "\x80", "\"\\ufffd\"" },                        /* stray continuation */
    { "\xc0\xaf", "\"\\ufffd\\ufffd\"" },               /* overlong '/' */
    { "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },      /* surrogate */
    { "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* past U+10FFFF */
    { "ab\xe2\x82", "\"ab\\ufffd\\ufffd\"" },              /* cut at the end */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_json_str(&b, cases[i].in), RB_OK);
    cr_expect_str_eq(b.data, cases[i].out, "case %zu", i);
    buf_free(&b);
  }
  cr_expect_eq(buf_utf8_seq((const unsigned char *)"\xe2\x82\xac", 3), 3);
  cr_expect_eq(buf_utf8_seq((const unsigned char *)"\xe2\x82\xac", 2), 0, "cut by avail");
  cr_expect_eq(buf_utf8_seq((const unsigned char *)"x", 0), 0);
}

Test(severity, normalises_like_the_contract)
{
  struct severity_map m;
  severity_map_defaults(&m);
  cr_assert_eq(severity_normalise(&m, "warning"), SEV_MEDIUM);
  cr_assert_eq(severity_normalise(&m, "info"), SEV_LOW);
  cr_assert_eq(severity_normalise(&m, "error"), SEV_HIGH);
  cr_assert_eq(severity_normalise(&m, "page"), SEV_CRITICAL);
  cr_assert_eq(severity_normalise(&m, "EMERGENCY"), SEV_EMERGENCY);
  cr_assert_eq(severity_normalise(&m, NULL), SEV_MEDIUM);
  cr_assert_eq(severity_normalise(&m, "whatever"), SEV_MEDIUM);
  cr_assert_eq(severity_map_set(&m, "sev1", SEV_EMERGENCY), RB_OK);
  cr_assert_eq(severity_normalise(&m, "Sev1"), SEV_EMERGENCY);
  m.missing = SEV_LOW;
  cr_assert_eq(severity_normalise(&m, ""), SEV_LOW);
  cr_assert_eq(severity_parse("high"), SEV_HIGH);
  cr_assert_eq(severity_parse("warning"), -1);
  cr_assert_str_eq(severity_name(SEV_CRITICAL), "critical");
}

/* rb_grow: the array every module appends to keeps its elements, doubles,
 * and hands out zeroed new ones. */
Test(grow, keeps_doubles_and_zeroes)
{
  int *v = NULL;
  size_t cap = 0;

  for (size_t i = 0; i < 40; i++) {
    cr_assert_eq(rb_grow((void **)&v, &cap, i, sizeof(*v)), RB_OK);
    cr_assert_gt(cap, i);
    cr_assert_eq(v[i], 0, "element %zu is new and zero", i);
    v[i] = (int)i + 1;
  }
  cr_expect_eq(cap, 64);
  for (size_t i = 0; i < 40; i++)
    cr_expect_eq(v[i], (int)i + 1);
  cr_assert_eq(rb_grow((void **)&v, &cap, 200, sizeof(*v)), RB_OK);
  cr_expect_eq(cap, 256, "grown past an index beyond the end");
  cr_expect_eq(v[200], 0);
  free(v);
}

/* Runs of plain characters and escapes alternate, ending either way. */
Test(buf, json_runs_and_escapes)
{
  struct buf b;
  buf_init(&b, 0);
  buf_json_str(&b, "plain");
  buf_json_str(&b, "\"");
  buf_json_str(&b, "ab\tcd\\");
  buf_json_str(&b, "");
  buf_json_str(&b, NULL);
  cr_assert_str_eq(b.data, "\"plain\"\"\\\"\"\"ab\\tcd\\\\\"\"\"\"\"");
  buf_free(&b);
  /* A run that hits the limit fails as a whole and the buffer stays valid. */
  buf_init(&b, 6);
  cr_assert_eq(buf_json_str(&b, "abcdefgh"), RB_ETOOBIG);
  cr_assert_str_eq(b.data, "\"");
  buf_free(&b);
}

Test(arena, blocks_are_aligned_distinct_and_owned)
{
  _Alignas(16) char stack[256];
  struct rb_arena a;
  char *p[200];

  rb_arena_init(&a, stack + 1, sizeof(stack) - 1, 0); /* a misaligned buffer */
  for (int i = 0; i < 200; i++) {
    p[i] = rb_arena_alloc(&a, (size_t)(i % 37));
    cr_assert_not_null(p[i]);
    cr_assert_eq((uintptr_t)p[i] % 16, 0);
    memset(p[i], i, (size_t)(i % 37));
    cr_assert(rb_arena_owns(&a, p[i]));
  }
  for (int i = 0; i < 200; i++)
    for (int k = 0; k < i % 37; k++)
      cr_assert_eq((unsigned char)p[i][k], (unsigned char)i);
  cr_assert_gt(a.allocated, 0);
  cr_assert_not(rb_arena_owns(&a, &a));
  rb_arena_free(&a);
  cr_assert_eq(a.allocated, 0);
  /* Usable again, from the caller's buffer first. */
  p[0] = rb_arena_alloc(&a, 8);
  cr_assert(p[0] >= stack && p[0] < stack + sizeof(stack));
  rb_arena_free(&a);
}

Test(arena, large_blocks_and_strings)
{
  struct rb_arena a;
  char *small, *big, *after, *s;

  rb_arena_init(&a, NULL, 0, 0);
  small = rb_arena_alloc(&a, 100);
  big = rb_arena_alloc(&a, 1 << 20); /* a chunk of its own */
  cr_assert_not_null(big);
  memset(big, 'x', 1 << 20);
  after = rb_arena_alloc(&a, 100); /* still from the first chunk */
  cr_assert(after > small && after < small + 4096);
  s = rb_arena_strdup(&a, "label");
  cr_assert_str_eq(s, "label");
  s = rb_arena_strndup(&a, "value\0hidden", 5);
  cr_assert_str_eq(s, "value");
  cr_assert_null(rb_arena_alloc(&a, SIZE_MAX - 4));
  cr_assert(rb_arena_owns(&a, big + (1 << 20) - 1));
  rb_arena_free(&a);
}
