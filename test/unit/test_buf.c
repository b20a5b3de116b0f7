/* Unit tests for buf.c and severity.c. */
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
