/* Unit tests for matcher.c: Alertmanager's matcher syntax and semantics,
 * and the RE2-to-POSIX regex translation. */
#include "matcher.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Label sets are sorted by name, as payload.h requires. */
static struct am_kv kv_api[] = {
  { "alertname", "HighLatency" },
  { "job", "api" },
  { "note", "line1\nline2" },
  { "severity", "critical" },
};
static const struct am_labels ls_api = { kv_api, 4 };
static const struct am_labels ls_empty = { NULL, 0 };

static struct matcher *
one(const char *s)
{
  char err[RB_ERRLEN];
  struct matcher *m = NULL;
  rb_status rc = matcher_parse(s, &m, err);
  cr_assert_eq(rc, RB_OK, "parse %s: %s", s, err);
  return m;
}

static void
expect_one(const char *s, enum matcher_type t, const char *name, const char *value)
{
  struct matcher *m = one(s);
  cr_expect_eq(m->type, t, "%s: type", s);
  cr_expect_str_eq(m->name, name, "%s: name", s);
  cr_expect_str_eq(m->value, value, "%s: value", s);
  matcher_free(m);
}

static rb_status
parse_err(const char *s, char *err)
{
  struct matcher *m = (struct matcher *)1;
  rb_status rc = matcher_parse(s, &m, err);
  cr_assert_null(m, "%s: out set on failure", s);
  cr_assert_neq(rc, RB_OK, "%s parsed", s);
  cr_assert(err[0], "%s: no message", s);
  return rc;
}

/* Builds x=~re and matches it against {x=v}. */
static int
rx_match(const char *re, const char *v)
{
  char err[RB_ERRLEN];
  struct matcher *m;
  struct am_kv kv = { "x", (char *)(uintptr_t)v };
  struct am_labels ls = { &kv, 1 };
  int r;

  cr_assert_eq(matcher_new("x", re, MATCHER_RE, &m, err), RB_OK, "%s: %s", re, err);
  r = matcher_match(m, &ls);
  matcher_free(m);
  return r;
}

static rb_status
rx_err(const char *re, char *err)
{
  struct matcher *m = NULL;
  rb_status rc = matcher_new("x", re, MATCHER_RE, &m, err);
  if (rc)
    cr_assert_null(m);
  matcher_free(m);
  return rc;
}

Test(matcher, operators)
{
  expect_one("foo=bar", MATCHER_EQ, "foo", "bar");
  expect_one("foo!=bar", MATCHER_NE, "foo", "bar");
  expect_one("foo=~bar.*", MATCHER_RE, "foo", "bar.*");
  expect_one("foo!~bar.*", MATCHER_NRE, "foo", "bar.*");
  expect_one("tricky=~~~", MATCHER_RE, "tricky", "~~");
  expect_one("a==b", MATCHER_EQ, "a", "=b");
  expect_one("a=!b", MATCHER_EQ, "a", "!b");
  expect_one("a!=~b", MATCHER_NE, "a", "~b");
  expect_one("ns:sub_1=x", MATCHER_EQ, "ns:sub_1", "x"); /* parse.go allows ':' */
  expect_one("_x=", MATCHER_EQ, "_x", "");
}

Test(matcher, quoting_and_escapes)
{
  expect_one("foo=\"bar\"", MATCHER_EQ, "foo", "bar");
  expect_one("foo=\"\"", MATCHER_EQ, "foo", "");
  expect_one("foo=\"a \\\"b\\\" c\"", MATCHER_EQ, "foo", "a \"b\" c");
  expect_one("foo=\"a\\\\b\"", MATCHER_EQ, "foo", "a\\b");
  expect_one("foo=\"a\\nb\"", MATCHER_EQ, "foo", "a\nb");
  expect_one("foo=\"a\\tb\"", MATCHER_EQ, "foo", "a\\tb"); /* spurious: literal */
  expect_one("foo=bar\\", MATCHER_EQ, "foo", "bar\\");     /* last byte: literal */
  expect_one("foo=bar\\\\", MATCHER_EQ, "foo", "bar\\");
  expect_one("foo=bar\\\"", MATCHER_EQ, "foo", "bar\"");
  expect_one("trickier==\\\\=\\=\\\"", MATCHER_EQ, "trickier", "=\\=\\=\"");
  expect_one("foo='", MATCHER_EQ, "foo", "'");
  expect_one("foo=\"caf\xc3\xa9\"", MATCHER_EQ, "foo", "caf\xc3\xa9");
  expect_one("foo=\"line\nbreak\"", MATCHER_EQ, "foo", "line\nbreak"); /* tolerated */
}

Test(matcher, whitespace)
{
  expect_one("  foo = bar  ", MATCHER_EQ, "foo", "bar");
  expect_one("\tfoo\n=~\r\"x\" \f", MATCHER_RE, "foo", "x");
  expect_one("foo=\" padded \"", MATCHER_EQ, "foo", " padded ");
  expect_one("foo=a b", MATCHER_EQ, "foo", "a b");
  expect_one("foo=   ", MATCHER_EQ, "foo", "");
  /* \v is not \s in RE2, so it stays in an unquoted value. */
  expect_one("foo=bar\v", MATCHER_EQ, "foo", "bar\v");
}

Test(matcher, invalid_names)
{
  char err[RB_ERRLEN];

  parse_err("invalid-name = \"x\"", err);
  cr_expect(strstr(err, "label name"), "%s", err);
  parse_err("1abc=x", err);
  parse_err("=x", err);
  parse_err("", err);
  parse_err("   ", err);
  parse_err("foo bar=x", err);
  parse_err("foo", err);
  parse_err("foo~x", err);
  parse_err("\"foo\"=x", err); /* quoted names are the UTF-8 parser's */
  parse_err("{foo=bar}", err); /* braces belong to lists */
  parse_err("f\xc3\xa9=x", err);

  struct matcher *m;
  cr_expect_eq(matcher_new("a-b", "x", MATCHER_EQ, &m, err), RB_EINVAL);
  cr_expect_eq(matcher_new("", "x", MATCHER_EQ, &m, err), RB_EINVAL);
  cr_expect_null(m);
}

Test(matcher, quote_errors)
{
  char err[RB_ERRLEN];

  parse_err("job=\"value", err);
  cr_expect(strstr(err, "unterminated"), "%s", err);
  parse_err("job=\"", err);
  parse_err("job=\"abc\\\"", err); /* the closing quote is escaped */
  parse_err("job=value\"", err);
  cr_expect(strstr(err, "unescaped double quote"), "%s", err);
  parse_err("job=foo\"bar", err);
  parse_err("job=\"a\"b\"", err);
  parse_err("job=\"a\" x", err);
  cr_expect_eq(parse_err("job=\xff", err), RB_EINVAL);
  cr_expect(strstr(err, "UTF-8"), "%s", err);
}

Test(matcher, limits)
{
  char err[RB_ERRLEN];
  struct matcher *m;
  char *big = malloc(MATCHER_MAX_VALUE + 16);

  memset(big, 'a', MATCHER_MAX_VALUE + 1);
  big[MATCHER_MAX_VALUE + 1] = '\0';
  cr_expect_eq(matcher_new("x", big, MATCHER_EQ, &m, err), RB_ETOOBIG);
  big[MATCHER_MAX_VALUE] = '\0';
  cr_expect_eq(matcher_new("x", big, MATCHER_EQ, &m, err), RB_OK, "%s", err);
  matcher_free(m);
  big[MATCHER_MAX_REGEX + 1] = '\0';
  cr_expect_eq(matcher_new("x", big, MATCHER_RE, &m, err), RB_ETOOBIG);
  big[MATCHER_MAX_REGEX] = '\0';
  cr_expect_eq(matcher_new("x", big, MATCHER_RE, &m, err), RB_OK, "%s", err);
  matcher_free(m);
  memset(big, 'n', MATCHER_MAX_NAME + 1);
  big[MATCHER_MAX_NAME + 1] = '\0';
  cr_expect_eq(matcher_new(big, "x", MATCHER_EQ, &m, err), RB_ETOOBIG);
  free(big);
}

Test(matcher, empty_label_semantics)
{
  struct matcher *m;

  m = one("foo=\"\"");
  cr_expect(matcher_match(m, &ls_api));   /* absent is "" */
  cr_expect(matcher_match(m, &ls_empty));
  cr_expect(matcher_match(m, NULL));
  matcher_free(m);
  m = one("job=\"\"");
  cr_expect_not(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("foo!=\"\"");
  cr_expect_not(matcher_match(m, &ls_api)); /* requires presence */
  matcher_free(m);
  m = one("job!=\"\"");
  cr_expect(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("foo=~\".*\"");
  cr_expect(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("foo=~\".+\"");
  cr_expect_not(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("foo!~\"x\"");
  cr_expect(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("foo!=x");
  cr_expect(matcher_match(m, &ls_api));
  matcher_free(m);
}

Test(matcher, match_values)
{
  struct matcher *m;

  m = one("severity=critical");
  cr_expect(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("severity!=critical");
  cr_expect_not(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("severity=~\"crit|high\"");
  cr_expect_not(matcher_match(m, &ls_api)); /* anchored: "crit" is not all */
  matcher_free(m);
  m = one("severity=~\"critical|high\"");
  cr_expect(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("severity!~\"critical|high\"");
  cr_expect_not(matcher_match(m, &ls_api));
  matcher_free(m);
  m = one("job=~\"ap\"");
  cr_expect_not(matcher_match(m, &ls_api));
  matcher_free(m);
}

Test(matcher, regex_anchoring_and_re2_constructs)
{
  cr_expect(rx_match("a|b", "a"));
  cr_expect_not(rx_match("a|b", "ab"));
  cr_expect_not(rx_match("a|b", "xa"));
  cr_expect(rx_match("", ""));
  cr_expect_not(rx_match("", "a"));
  cr_expect(rx_match("5..", "503"));
  cr_expect(rx_match("\\d+", "123"));
  cr_expect_not(rx_match("\\d+", "12a"));
  cr_expect_not(rx_match("\\d", "d"));
  cr_expect(rx_match("\\D\\w\\s\\S\\W", "x_ y-"));
  cr_expect(rx_match("[\\d.]+", "10.0.0.1"));
  cr_expect(rx_match("[^\\d]+", "abc"));
  cr_expect_not(rx_match("[^\\d]+", "a1"));
  cr_expect(rx_match("[\\D]", "a"));
  cr_expect(rx_match("[[:alpha:]_]+", "ab_C"));
  cr_expect(rx_match("[[:^digit:]]+", "ab"));
  cr_expect_not(rx_match("[[:^digit:]]+", "a1"));
  cr_expect(rx_match("[[:word:]]+", "a_1"));
  cr_expect(rx_match("[]a]+", "]a"));
  cr_expect(rx_match("[^]a]", "b"));
  cr_expect_not(rx_match("[^]a]", "]"));
  cr_expect(rx_match("[a-]+", "a-"));
  cr_expect(rx_match("[\\^]", "^"));
  cr_expect(rx_match("[\\^-]+", "^-"));
  cr_expect(rx_match("[\\[\\]]+", "[]"));
  cr_expect(rx_match("[.=:[]+", ".=:["));
  cr_expect(rx_match("(?:ab)+", "abab"));
  cr_expect(rx_match("(?P<x>a)(?<y>b)", "ab"));
  cr_expect(rx_match("a.*?b", "axxb"));
  cr_expect(rx_match("a+?", "aa"));
  cr_expect_not(rx_match("a+?", ""));  /* not (a+)? */
  cr_expect(rx_match("a{2,3}?", "aa"));
  cr_expect_not(rx_match("a{2,3}?", ""));
  cr_expect(rx_match("a{2}", "aa"));
  cr_expect(rx_match("a{2,}", "aaaa"));
  cr_expect(rx_match("a{,2}", "a{,2}")); /* not a repeat in RE2 */
  cr_expect(rx_match("x{", "x{"));
  cr_expect(rx_match("}]", "}]"));
  cr_expect(rx_match("\\.\\*\\<\\>", ".*<>")); /* \< is '<' in RE2, not a GNU anchor */
  cr_expect(rx_match("a\\tb", "a\tb"));
  cr_expect(rx_match("\\Aab\\z", "ab"));
  cr_expect(rx_match("(?i)CRIT.*", "critical"));
  cr_expect_not(rx_match("CRIT.*", "critical"));
  cr_expect(rx_match("caf\xc3\xa9+", "caf\xc3\xa9\xc3\xa9")); /* repeats the character */
}

Test(matcher, regex_newline)
{
  /* RE2's '.' stops at '\n'; (?s) lifts that; classes keep matching it. */
  cr_expect_not(rx_match(".*", "line1\nline2"));
  cr_expect(rx_match("(?s).*", "line1\nline2"));
  cr_expect(rx_match("[^x]*", "line1\nline2"));
  cr_expect(rx_match("line1\\nline2", "line1\nline2"));
  cr_expect(rx_match("(?is)LINE1.LINE2", "line1\nline2"));
}

Test(matcher, bad_regex)
{
  char err[RB_ERRLEN];

  cr_expect_eq(rx_err("invalid[regexp", err), RB_EINVAL);
  cr_expect(strstr(err, "missing closing ]"), "%s", err);
  cr_expect_eq(rx_err("(a", err), RB_EINVAL);
  cr_expect(strstr(err, "missing closing )"), "%s", err);
  cr_expect_eq(rx_err("a)|(b", err), RB_EINVAL);
  cr_expect(strstr(err, "unexpected )"), "%s", err);
  cr_expect_eq(rx_err("*a", err), RB_EINVAL);
  cr_expect_eq(rx_err("a**", err), RB_EINVAL);
  cr_expect(strstr(err, "nested repetition"), "%s", err);
  cr_expect_eq(rx_err("\\bfoo", err), RB_EINVAL);
  cr_expect(strstr(err, "unsupported escape"), "%s", err);
  cr_expect(strstr(err, "offset 0"), "%s", err);
  cr_expect_eq(rx_err("\\pL", err), RB_EINVAL);
  cr_expect_eq(rx_err("\\x41", err), RB_EINVAL);
  cr_expect_eq(rx_err("\\1", err), RB_EINVAL);
  cr_expect_eq(rx_err("a\\", err), RB_EINVAL);
  cr_expect(strstr(err, "trailing backslash"), "%s", err);
  cr_expect_eq(rx_err("a(?i)b", err), RB_EINVAL);
  cr_expect_eq(rx_err("(?m)a", err), RB_EINVAL);
  cr_expect_eq(rx_err("(?i:a)", err), RB_EINVAL);
  cr_expect_eq(rx_err("[\xc3\xa9]", err), RB_EINVAL);
  cr_expect_eq(rx_err("[z-a]", err), RB_EINVAL);
  cr_expect_eq(rx_err("[[:bogus:]]", err), RB_EINVAL);
  cr_expect_eq(rx_err("[\\d\\D]", err), RB_OK); /* everything: fine */
  cr_expect_eq(rx_err("a{1001}", err), RB_EINVAL);
  cr_expect_eq(rx_err("a{99999999999999999999}", err), RB_EINVAL); /* capped, no overflow */
  cr_expect(rx_match("a{99999999999999999999", "a{99999999999999999999"));
  cr_expect_eq(rx_err("a{3,2}", err), RB_EINVAL);
  cr_expect_eq(rx_err("(a{100}){100}", err), RB_EINVAL);
  cr_expect(strstr(err, "1000"), "%s", err);
  cr_expect_eq(rx_err("(a{10}){100}", err), RB_OK);

  char deep[2 * MATCHER_MAX_DEPTH + 8];
  memset(deep, '(', MATCHER_MAX_DEPTH + 1);
  memset(deep + MATCHER_MAX_DEPTH + 1, ')', MATCHER_MAX_DEPTH + 1);
  deep[2 * MATCHER_MAX_DEPTH + 2] = '\0';
  cr_expect_eq(rx_err(deep, err), RB_EINVAL);
  cr_expect(strstr(err, "nested too deeply"), "%s", err);

  /* Through the parser, the message keeps the regex's reason. */
  struct matchers *ms;
  cr_expect_eq(matchers_parse("{a=b, foo=~\"invalid[regexp\"}", &ms, err), RB_EINVAL);
  cr_expect_null(ms);
  cr_expect(strstr(err, "matcher 2: bad regex"), "%s", err);
}

Test(matcher, regex_expansion_bounded)
{
  char err[RB_ERRLEN];
  char pat[MATCHER_MAX_REGEX + 1] = "";

  /* Each a{1000} is legal on its own; eleven of them are not. */
  for (int i = 0; i < 11; i++)
    strcat(pat, "a{1000}");
  cr_expect_eq(rx_err(pat, err), RB_EINVAL);
  cr_expect(strstr(err, "too large"), "%s", err);

  /* Mandatory copies are cheap for glibc; optional positions are not. */
  cr_expect_eq(rx_err(".{1000}", err), RB_OK, "%s", err);
  cr_expect_eq(rx_err("(a|b){1000}", err), RB_OK, "%s", err);
  cr_expect_eq(rx_err("[a-z]{1,300}", err), RB_OK, "%s", err);
  cr_expect_eq(rx_err("[a-z]{0,301}", err), RB_EINVAL);
  cr_expect(strstr(err, "optional positions"), "%s", err);
  cr_expect_eq(rx_err("(.?){301}", err), RB_EINVAL);
  cr_expect_eq(rx_err("((a|b|c|d|e|f|g|h|i|j){0,20}){50}", err), RB_EINVAL);
  cr_expect_eq(rx_err("((a|b){0,10}){20}", err), RB_EINVAL);
  cr_expect_eq(rx_err("(\\d{1,3}\\.){3}\\d{1,3}(:[0-9]+)?", err), RB_OK, "%s", err);
  cr_expect_eq(rx_err("(a*b?)*", err), RB_OK, "%s", err);
}

Test(matcher, from_api)
{
  char err[RB_ERRLEN];
  struct matcher *m;

  cr_assert_eq(matcher_from_api("job", "api|web", 1, 1, &m, err), RB_OK, "%s", err);
  cr_expect_eq(m->type, MATCHER_RE);
  cr_expect(matcher_match(m, &ls_api));
  matcher_free(m);
  cr_assert_eq(matcher_from_api("job", "api", 0, 0, &m, err), RB_OK);
  cr_expect_eq(m->type, MATCHER_NE);
  matcher_free(m);
  cr_assert_eq(matcher_from_api("job", "a.*", 1, 0, &m, err), RB_OK);
  cr_expect_eq(m->type, MATCHER_NRE);
  cr_expect_not(matcher_match(m, &ls_api));
  matcher_free(m);
  cr_assert_eq(matcher_from_api("job", "a.*", 0, 1, &m, err), RB_OK);
  cr_expect_eq(m->type, MATCHER_EQ);
  cr_expect_not(matcher_match(m, &ls_api)); /* literal, not a regex */
  matcher_free(m);
  cr_expect_eq(matcher_from_api("job", "(", 1, 1, &m, err), RB_EINVAL);
  cr_expect_eq(matcher_from_api("job", "\xff", 0, 1, &m, err), RB_EINVAL);
}

/* Alertmanager's pkg/labels/parse_test.go TestMatchers, as a table:
 * input, then expected (type, name, value) triples, or NULL want for an
 * error. */
struct list_case {
  const char *in;
  int n; /* -1: error */
  struct { enum matcher_type t; const char *name, *value; } want[3];
};

static const struct list_case list_cases[] = {
  { "{}", 0, { { 0 } } },
  { "", 0, { { 0 } } },
  { ",", -1, { { 0 } } },
  { "{,}", -1, { { 0 } } },
  { "{foo='}", 1, { { MATCHER_EQ, "foo", "'" } } },
  { "{foo=`}", 1, { { MATCHER_EQ, "foo", "`" } } },
  { "{foo=\\\"}", 1, { { MATCHER_EQ, "foo", "\"" } } },
  { "{foo=bar}", 1, { { MATCHER_EQ, "foo", "bar" } } },
  { "{foo=\"bar\"}", 1, { { MATCHER_EQ, "foo", "bar" } } },
  { "{foo=~bar.*}", 1, { { MATCHER_RE, "foo", "bar.*" } } },
  { "{foo!~\"bar.*\"}", 1, { { MATCHER_NRE, "foo", "bar.*" } } },
  { "{foo=\"bar\", baz!=\"quux\"}", 2,
    { { MATCHER_EQ, "foo", "bar" }, { MATCHER_NE, "baz", "quux" } } },
  { "{foo=\"bar\",baz!~\".*quux\", derp=\"wat\"}", 3,
    { { MATCHER_EQ, "foo", "bar" }, { MATCHER_NRE, "baz", ".*quux" },
      { MATCHER_EQ, "derp", "wat" } } },
  { "{foo=\"\"}", 1, { { MATCHER_EQ, "foo", "" } } },
  { "{foo=\"bar,quux\", job=\"job1\"}", 2,
    { { MATCHER_EQ, "foo", "bar,quux" }, { MATCHER_EQ, "job", "job1" } } },
  { "{foo = \"bar\", dings != \"bums\", }", 2,
    { { MATCHER_EQ, "foo", "bar" }, { MATCHER_NE, "dings", "bums" } } },
  { "foo=bar,dings!=bums", 2,
    { { MATCHER_EQ, "foo", "bar" }, { MATCHER_NE, "dings", "bums" } } },
  { "{quote=\"She said: \\\"Hi, ladies! That's gender-neutral\xe2\x80\xa6\\\"\"}", 1,
    { { MATCHER_EQ, "quote", "She said: \"Hi, ladies! That's gender-neutral\xe2\x80\xa6\"" } } },
  { "statuscode=~\"5..\"", 1, { { MATCHER_RE, "statuscode", "5.." } } },
  { "tricky=~~~", 1, { { MATCHER_RE, "tricky", "~~" } } },
  { "contains_quote != \"\\\"\" , contains_comma !~ \"foo,bar\" , ", 2,
    { { MATCHER_NE, "contains_quote", "\"" }, { MATCHER_NRE, "contains_comma", "foo,bar" } } },
  { "{foo=bar}}", 1, { { MATCHER_EQ, "foo", "bar}" } } },
  { "{foo=bar}},}", 1, { { MATCHER_EQ, "foo", "bar}}" } } },
  { "{foo=,bar=}}", 2, { { MATCHER_EQ, "foo", "" }, { MATCHER_EQ, "bar", "}" } } },
  { "{foo=bar\\t}", 1, { { MATCHER_EQ, "foo", "bar\\t" } } },
  { "{foo=bar\\n}", 1, { { MATCHER_EQ, "foo", "bar\n" } } },
  { "{foo=bar\\}", 1, { { MATCHER_EQ, "foo", "bar\\" } } },
  { "{foo=bar\\\\}", 1, { { MATCHER_EQ, "foo", "bar\\" } } },
  { "{foo=bar\\\"}", 1, { { MATCHER_EQ, "foo", "bar\"" } } },
  { "job=", 1, { { MATCHER_EQ, "job", "" } } },
  { "job=\"value", -1, { { 0 } } },
  { "job=value\"", -1, { { 0 } } },
  { "trickier==\\\\=\\=\\\"\"", -1, { { 0 } } },
  { "contains_unescaped_quote = foo\"bar", -1, { { 0 } } },
  { "{invalid-name = \"valid label\"}", -1, { { 0 } } },
  { "{foo=~\"invalid[regexp\"}", -1, { { 0 } } },
  { "\"{foo=\\\"bar\"}", -1, { { 0 } } },
  { "\"foo=\\\"bar\"", -1, { { 0 } } },
  { "\"foo=\"bar\"\"", -1, { { 0 } } },
  { "{{foo=", -1, { { 0 } } },
  { "{foo=", 1, { { MATCHER_EQ, "foo", "" } } },
  { "{foo=}b", 1, { { MATCHER_EQ, "foo", "}b" } } },
  /* Beyond parse_test.go. */
  { " {a=b}", -1, { { 0 } } },               /* no trimming before '{' */
  { "a=b,,c=d", -1, { { 0 } } },             /* empty middle element */
  { "a=b, \xc2\xa0", 1, { { MATCHER_EQ, "a", "b" } } }, /* TrimSpace is Unicode */
  { "a=b\xc2\xa0", 1, { { MATCHER_EQ, "a", "b" } } },
  { "a=b\xc2\xa0,c=d", 2, { { MATCHER_EQ, "a", "b\xc2\xa0" }, { MATCHER_EQ, "c", "d" } } },
  { "a=\"x,y\",b=~\"(p|q),r\"", 2,
    { { MATCHER_EQ, "a", "x,y" }, { MATCHER_RE, "b", "(p|q),r" } } },
  { "a=\"\\\\\",b=c", 2, { { MATCHER_EQ, "a", "\\" }, { MATCHER_EQ, "b", "c" } } },
  { "a=\"x\xff\"", -1, { { 0 } } },
};

Test(matcher, list_parsing_alertmanager_cases)
{
  for (size_t i = 0; i < RB_ARRAY_LEN(list_cases); i++) {
    const struct list_case *c = &list_cases[i];
    char err[RB_ERRLEN];
    struct matchers *ms = (struct matchers *)1;
    rb_status rc = matchers_parse(c->in, &ms, err);

    if (c->n < 0) {
      cr_expect_neq(rc, RB_OK, "case %zu %s: parsed", i, c->in);
      cr_expect_null(ms, "case %zu", i);
      cr_expect(err[0], "case %zu: no message", i);
      continue;
    }
    cr_assert_eq(rc, RB_OK, "case %zu %s: %s", i, c->in, err);
    cr_assert_eq(ms->n, (size_t)c->n, "case %zu %s: count %zu", i, c->in, ms->n);
    for (int j = 0; j < c->n; j++) {
      cr_expect_eq(ms->m[j]->type, c->want[j].t, "case %zu.%d", i, j);
      cr_expect_str_eq(ms->m[j]->name, c->want[j].name, "case %zu.%d", i, j);
      cr_expect_str_eq(ms->m[j]->value, c->want[j].value, "case %zu.%d", i, j);
    }
    matchers_free(ms);
  }
}

Test(matcher, list_errors_name_the_element)
{
  char err[RB_ERRLEN];
  struct matchers *ms;

  cr_expect_eq(matchers_parse("a=b, c=\"unterminated", &ms, err), RB_EINVAL);
  cr_expect(strstr(err, "matcher 2: unterminated"), "%s", err);
  cr_expect_eq(matchers_parse("a=b\xff", &ms, err), RB_EINVAL);
  cr_expect(strstr(err, "UTF-8"), "%s", err);
}

Test(matcher, list_limits)
{
  char err[RB_ERRLEN];
  struct matchers *ms;
  struct matcher *m;
  struct buf b;

  buf_init(&b, 0);
  for (int i = 0; i <= MATCHERS_MAX; i++)
    cr_assert_eq(buf_printf(&b, "%sa%d=b", i ? "," : "", i), RB_OK);
  cr_expect_eq(matchers_parse(b.data, &ms, err), RB_ETOOBIG);
  cr_expect_null(ms);
  buf_reset(&b);
  for (int i = 0; i < MATCHERS_MAX_INPUT; i += 8)
    cr_assert_eq(buf_puts(&b, "a=bbbbbb"), RB_OK);
  cr_assert_eq(buf_puts(&b, "x"), RB_OK);
  cr_expect_eq(matchers_parse(b.data, &ms, err), RB_ETOOBIG);
  cr_expect_eq(matcher_parse(b.data, &m, err), RB_ETOOBIG);
  buf_free(&b);
}

Test(matcher, list_match_all)
{
  char err[RB_ERRLEN];
  struct matchers *ms;

  cr_assert_eq(matchers_parse("{alertname=\"HighLatency\", severity=~\"crit.*\", "
                              "team=\"\"}", &ms, err), RB_OK, "%s", err);
  cr_expect(matchers_match(ms, &ls_api));
  matchers_free(ms);
  cr_assert_eq(matchers_parse("alertname=HighLatency,job!=api", &ms, err), RB_OK);
  cr_expect_not(matchers_match(ms, &ls_api));
  matchers_free(ms);
  cr_assert_eq(matchers_parse("{}", &ms, err), RB_OK);
  cr_expect(matchers_match(ms, &ls_api)); /* empty list matches everything */
  cr_expect(matchers_match(ms, &ls_empty));
  matchers_free(ms);
}

Test(matcher, format)
{
  static const struct { const char *in, *out; } cases[] = {
    { "foo=bar", "foo=\"bar\"" },
    { "foo != bar", "foo!=\"bar\"" },
    { "foo=~\"a|b\"", "foo=~\"a|b\"" },
    { "foo!~ x.*", "foo!~\"x.*\"" },
    { "foo=\"a\\\"b\\\\c\\nd\"", "foo=\"a\\\"b\\\\c\\nd\"" },
    { "foo=bar\\t", "foo=\"bar\\\\t\"" },
    { "foo=", "foo=\"\"" },
  };
  char err[RB_ERRLEN];
  struct buf b, b2;

  buf_init(&b, 0);
  buf_init(&b2, 0);
  for (size_t i = 0; i < RB_ARRAY_LEN(cases); i++) {
    struct matcher *m = one(cases[i].in), *m2;
    buf_reset(&b);
    cr_assert_eq(matcher_format(m, &b), RB_OK);
    cr_expect_str_eq(b.data, cases[i].out);
    /* Round trip: the formatted form parses back to the same matcher. */
    cr_assert_eq(matcher_parse(b.data, &m2, err), RB_OK, "%s: %s", b.data, err);
    cr_expect_eq(m2->type, m->type);
    cr_expect_str_eq(m2->name, m->name);
    cr_expect_str_eq(m2->value, m->value);
    matcher_free(m);
    matcher_free(m2);
  }

  struct matchers *ms, *ms2;
  cr_assert_eq(matchers_parse("{ a = \"x,y\", b=~\"}\" ,c!=\"\\\\\", d=\"q\\\"\" , }",
                              &ms, err), RB_OK, "%s", err);
  buf_reset(&b);
  cr_assert_eq(matchers_format(ms, &b), RB_OK);
  cr_expect_str_eq(b.data, "{a=\"x,y\",b=~\"}\",c!=\"\\\\\",d=\"q\\\"\"}");
  cr_assert_eq(matchers_parse(b.data, &ms2, err), RB_OK, "%s", err);
  buf_reset(&b2);
  cr_assert_eq(matchers_format(ms2, &b2), RB_OK);
  cr_expect_str_eq(b.data, b2.data);
  matchers_free(ms);
  matchers_free(ms2);

  cr_assert_eq(matchers_parse("", &ms, err), RB_OK);
  buf_reset(&b);
  cr_assert_eq(matchers_format(ms, &b), RB_OK);
  cr_expect_str_eq(b.data, "{}");
  matchers_free(ms);
  buf_free(&b);
  buf_free(&b2);
}

Test(matcher, free_accepts_null)
{
  matcher_free(NULL);
  matchers_free(NULL);
}
