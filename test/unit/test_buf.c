/* Unit tests for buf.c, grow.c and severity.c. */
#include "buf.h"
#include "severity.h"

#include <criterion/criterion.h>
#include <stdlib.h>

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
