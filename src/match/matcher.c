/*
 * matcher.c - Alertmanager label matchers; see matcher.h for the syntax,
 * the semantics and how RE2 patterns are carried over to POSIX regcomp.
 *
 * The file has three parts: the RE2-to-POSIX translation, the parsers
 * (one matcher, then the list), and matching/formatting.
 */
#include "matcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The translated pattern is bounded separately from the source: a short
 * class such as [[:print:]] expands to ~100 bytes. */
#define RX_MAX_OUT 65536
/* RE2 matches in linear time; glibc does not.  Measured on glibc 2.36
 * with a 16 KiB value: mandatory copies (a{1000}, (a|b){1000}) cost
 * microseconds, but optional positions, each x? or each copy beyond n in
 * x{n,m}, cost roughly their cube: (.?){300} takes 15 ms per regexec,
 * (.?){1000} 0.5 s and ((a|b|c|d|e|f|g|h|i|j){0,20}){50} (legal in RE2)
 * 35 s.  Patterns may come from the silence API, so optional positions
 * after expansion are capped hard, and all positions loosely (memory). */
#define RX_MAX_NODES 10000
#define RX_MAX_OPTIONAL 300
#define RX_MAX_REPEAT 1000

static const char *const op_str[] = { "=", "!=", "=~", "!~" };

/* RE2's \s, and the whitespace the classic parser's regex (\s) trims. */
static int
is_ws(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int
is_digit(unsigned char c)
{
  return c >= '0' && c <= '9';
}

static int
is_alpha(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
name_first(unsigned char c)
{
  return is_alpha(c) || c == '_' || c == ':';
}

static int
name_char(unsigned char c)
{
  return name_first(c) || is_digit(c);
}

/* ---- RE2 -> POSIX ERE ------------------------------------------------ */

/* A set of ASCII characters (NUL never included: values are C strings). */
typedef unsigned char cset[128];

struct rx {
  const char *src;  /* start of the RE2 pattern, for error offsets */
  const char *p;    /* cursor */
  struct buf *out;
  int dotnl;        /* (?s): '.' matches '\n' too */
  int icase;        /* (?i) */
  int can_repeat;   /* the last item is something a quantifier may follow */
  int after_quant;  /* the last item was a quantifier: '?' makes it lazy */
  int depth;
  long last_prod;   /* nested repetition product of the last atom */
  long last_size;   /* glibc nodes in the last atom */
  long last_opt;    /* optional positions in the last atom */
  long prod[MATCHER_MAX_DEPTH + 1]; /* largest product in each open group */
  long size[MATCHER_MAX_DEPTH + 1]; /* nodes in each open group so far */
  long opt[MATCHER_MAX_DEPTH + 1];  /* optional positions in each, so far */
  rb_status rc;
  const char *why;  /* static reason when rc is RB_EINVAL */
  size_t at;        /* offset of the offending construct */
};

static rb_status
fail(struct rx *x, const char *at, const char *why)
{
  x->why = why;
  x->at = (size_t)(at - x->src);
  x->rc = RB_EINVAL;
  return x->rc;
}

static rb_status
put(struct rx *x, const char *s, size_t n)
{
  rb_status rc = buf_append(x->out, s, n);
  if (rc == RB_ETOOBIG) {
    x->why = "pattern too large once translated";
    x->at = (size_t)(x->p - x->src);
  }
  if (rc)
    x->rc = rc;
  return rc;
}

static rb_status
puts_rx(struct rx *x, const char *s)
{
  return put(x, s, strlen(s));
}

/* A literal character outside brackets.  Backslash before an ERE special
 * character is literal in glibc; every other ASCII byte is ordinary. */
static rb_status
put_literal(struct rx *x, unsigned char c)
{
  char two[2] = { '\\', (char)c };
  if (strchr(".[]\\()*+?{}|^$", c))
    return put(x, two, 2);
  return put(x, (const char *)&c, 1);
}

static void
cset_range(cset s, int lo, int hi)
{
  for (int c = lo; c <= hi; c++)
    if (c > 0 && c < 128)
      s[c] = 1;
}

/* \d \s \w, lowercase letter given.  ASCII only, as in RE2. */
static void
perl_class(char k, cset s)
{
  memset(s, 0, sizeof(cset));
  if (k == 'd') {
    cset_range(s, '0', '9');
  } else if (k == 's') {
    s['\t'] = s['\n'] = s['\f'] = s['\r'] = s[' '] = 1;
  } else {
    cset_range(s, '0', '9');
    cset_range(s, 'A', 'Z');
    cset_range(s, 'a', 'z');
    s['_'] = 1;
  }
}

/* Adds class s to a bracket expression: to pos (characters it may match),
 * or, negated ([:^name:], \D), by narrowing base to s. */
static void
merge_class(cset base, cset pos, const cset s, int negated)
{
  for (int i = 0; i < 128; i++) {
    if (negated)
      base[i] = base[i] && s[i];
    else
      pos[i] = pos[i] || s[i];
  }
}

/* RE2's [:name:] classes (ASCII).  Expanded here rather than passed to
 * glibc because glibc has no [:word:] or [:ascii:], and its classes follow
 * the locale.  Returns 0 for an unknown name. */
static int
posix_class(const char *name, size_t n, cset s)
{
  static const char *const names[] = { "alnum", "alpha", "ascii", "blank",
    "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper",
    "word", "xdigit" };
  size_t i;

  memset(s, 0, sizeof(cset));
  for (i = 0; i < RB_ARRAY_LEN(names); i++)
    if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
      break;
  switch (i) {
  case 0: cset_range(s, '0', '9'); /* fall through */
  case 1: cset_range(s, 'A', 'Z'); cset_range(s, 'a', 'z'); return 1;
  case 2: cset_range(s, 1, 127); return 1;
  case 3: s['\t'] = s[' '] = 1; return 1;
  case 4: cset_range(s, 1, 31); s[127] = 1; return 1;
  case 5: cset_range(s, '0', '9'); return 1;
  case 6: cset_range(s, '!', '~'); return 1;
  case 7: cset_range(s, 'a', 'z'); return 1;
  case 8: cset_range(s, ' ', '~'); return 1;
  case 9:
    cset_range(s, '!', '/'); cset_range(s, ':', '@');
    cset_range(s, '[', '`'); cset_range(s, '{', '~');
    return 1;
  case 10: cset_range(s, '\t', '\r'); s[' '] = 1; return 1;
  case 11: cset_range(s, 'A', 'Z'); return 1;
  case 12: perl_class('w', s); return 1;
  case 13:
    cset_range(s, '0', '9'); cset_range(s, 'A', 'F'); cset_range(s, 'a', 'f');
    return 1;
  default: return 0;
  }
}

/* Writes a set as a POSIX bracket expression.  Members are listed one by
 * one (no ranges, whose meaning depends on the locale's collation), with
 * ']' first, '^' not first and '-' last, so no member is read as syntax.
 * Ascending order keeps '[' from being followed by '.', '=' or ':'. */
static rb_status
put_set(struct rx *x, const cset s, int neg)
{
  int others = 0, rb = s[']'], dash = s['-'], caret = s['^'];
  char c;

  for (int i = 1; i < 128; i++)
    if (s[i] && i != ']' && i != '-' && i != '^')
      others++;
  if (neg && !others && !rb && !dash && !caret)
    return puts_rx(x, "."); /* everything; '.' matches '\n' in POSIX */
  if (!neg && !others && !rb) {
    if (caret && dash)
      return puts_rx(x, "(\\^|-)");
    if (caret)
      return puts_rx(x, "\\^");
    if (dash)
      return puts_rx(x, "-");
    return fail(x, x->p, "empty character class");
  }
  if (puts_rx(x, neg ? "[^" : "["))
    return x->rc;
  if (rb && puts_rx(x, "]"))
    return x->rc;
  for (int i = 1; i < 128; i++) {
    if (!s[i] || i == ']' || i == '-' || i == '^')
      continue;
    c = (char)i;
    if (put(x, &c, 1))
      return x->rc;
  }
  if (caret && puts_rx(x, "^"))
    return x->rc;
  if (dash && puts_rx(x, "-"))
    return x->rc;
  return puts_rx(x, "]");
}

/* Reads one escaped character (x->p at the backslash) and returns it, or
 * -1 after fail().  Perl classes and \A \z are handled by the callers. */
static int
escape_char(struct rx *x)
{
  unsigned char c = (unsigned char)x->p[1];

  if (!c) {
    fail(x, x->p, "trailing backslash");
    return -1;
  }
  x->p += 2;
  if (c < 0x80 && !is_alpha(c) && !is_digit(c))
    return c; /* RE2: any escaped ASCII punctuation is itself */
  switch (c) {
  case 't': return '\t';
  case 'n': return '\n';
  case 'r': return '\r';
  case 'f': return '\f';
  case 'v': return '\v';
  case 'a': return '\a';
  default:
    fail(x, x->p - 2, "unsupported escape (no POSIX equivalent for RE2's "
         "\\b \\B \\p \\x \\Q, octal or back-references)");
    return -1;
  }
}

/* One member of a bracket expression: a character or an escape. */
static int
class_char(struct rx *x)
{
  unsigned char c = (unsigned char)*x->p;

  if (c >= 0x80) {
    fail(x, x->p, "non-ASCII character inside [...] is not supported");
    return -1;
  }
  if (c == '\\')
    return escape_char(x);
  x->p++;
  return c;
}

/* Translates [...] at x->p, following Go's parseClass: ']' right after
 * '[' or '[^' is a member, '-' is literal where it cannot form a range.
 * Negated members ([:^alpha:], \D) make the set a complement: the result
 * is NOT(B AND NOT P) where P is the union of plain members and B the
 * intersection of the negated members' bases. */
static rb_status
translate_bracket(struct rx *x)
{
  cset pos, base, tmp, res;
  int neg = 0, have_neg = 0, first = 1, lo, hi;
  const char *open = x->p;

  memset(pos, 0, sizeof(pos));
  memset(base, 1, sizeof(base));
  x->p++;
  if (*x->p == '^') {
    neg = 1;
    x->p++;
  }
  while (first || *x->p != ']') {
    first = 0;
    if (!*x->p)
      return fail(x, open, "missing closing ] in character class");
    if (x->p[0] == '[' && x->p[1] == ':') {
      const char *end = strstr(x->p + 2, ":]");
      if (end) {
        const char *name = x->p + 2;
        int inv = *name == '^';
        name += inv;
        if (end < name || !posix_class(name, (size_t)(end - name), tmp))
          return fail(x, x->p, "unknown [:class:] name");
        merge_class(base, pos, tmp, inv);
        have_neg |= inv;
        x->p = end + 2;
        continue;
      }
    }
    if (x->p[0] == '\\' && x->p[1] && strchr("dDsSwW", x->p[1])) {
      int inv = x->p[1] < 'a';
      perl_class((char)(x->p[1] | 0x20), tmp);
      merge_class(base, pos, tmp, inv);
      have_neg |= inv;
      x->p += 2;
      continue;
    }
    lo = class_char(x);
    if (lo < 0)
      return x->rc;
    hi = lo;
    if (x->p[0] == '-' && x->p[1] && x->p[1] != ']') {
      x->p++;
      hi = class_char(x);
      if (hi < 0)
        return x->rc;
      if (hi < lo)
        return fail(x, x->p - 1, "invalid character class range");
    }
    cset_range(pos, lo, hi);
  }
  x->p++;
  for (int i = 0; i < 128; i++)
    res[i] = have_neg ? (base[i] && !pos[i]) : pos[i];
  res[0] = 0;
  return put_set(x, res, neg ^ have_neg);
}

static rb_status
check_size(struct rx *x)
{
  if (x->size[x->depth] > RX_MAX_NODES)
    return fail(x, x->p, "pattern too large (repetitions expand too far)");
  if (x->opt[x->depth] > RX_MAX_OPTIONAL)
    return fail(x, x->p, "pattern too costly: more than 300 optional "
                "positions once repetitions are expanded (glibc's matcher, "
                "unlike RE2, slows down sharply with them)");
  return RB_OK;
}

/* Bookkeeping for an atom (something a quantifier may follow). */
static rb_status
atom(struct rx *x, long size)
{
  x->can_repeat = 1;
  x->after_quant = 0;
  x->last_prod = 1;
  x->last_size = size;
  x->last_opt = 0;
  x->size[x->depth] += size;
  return check_size(x);
}

/* {n}, {n,} or {n,m} at x->p.  Returns 1 and the bounds when it is one
 * (m = -1 for no upper bound), 0 when the brace is a literal '{' as RE2
 * reads it.  Numbers are capped while reading so they cannot overflow. */
static int
read_repeat(const char *p, long *n, long *m, const char **end)
{
  long a = 0, b = -1;

  if (*p++ != '{' || !is_digit((unsigned char)*p))
    return 0;
  for (; is_digit((unsigned char)*p); p++)
    a = a > 100000 ? a : a * 10 + (*p - '0');
  if (*p == ',') {
    p++;
    if (is_digit((unsigned char)*p)) {
      b = 0;
      for (; is_digit((unsigned char)*p); p++)
        b = b > 100000 ? b : b * 10 + (*p - '0');
    }
  } else {
    b = a;
  }
  if (*p != '}')
    return 0;
  *n = a;
  *m = b;
  *end = p + 1;
  return 1;
}

static rb_status
translate_repeat(struct rx *x, long n, long m)
{
  char num[48];
  long k;

  if (!x->can_repeat)
    return fail(x, x->p, x->after_quant ? "invalid nested repetition operator"
                                        : "missing argument to repetition operator");
  if (n > RX_MAX_REPEAT || m > RX_MAX_REPEAT || (m >= 0 && m < n))
    return fail(x, x->p, "invalid repeat count (RE2 allows at most 1000)");
  if (m < 0)
    snprintf(num, sizeof(num), "{%ld,}", n);
  else if (m == n)
    snprintf(num, sizeof(num), "{%ld}", n);
  else
    snprintf(num, sizeof(num), "{%ld,%ld}", n, m);
  if (puts_rx(x, num))
    return x->rc;
  /* RE2's rule: the product of nested counts stays within 1000. */
  k = m < 0 ? n : m;
  if (k > 0) {
    x->last_prod *= k;
    if (x->last_prod > RX_MAX_REPEAT)
      return fail(x, x->p, "invalid repeat count (nested repetitions exceed 1000)");
    if (x->last_prod > x->prod[x->depth])
      x->prod[x->depth] = x->last_prod;
    /* k copies in all, each with the atom's own optional positions;
     * the m - n copies beyond n are optional as a whole. */
    x->size[x->depth] += x->last_size * (k - 1);
    x->opt[x->depth] += x->last_opt * (k - 1);
    if (m > n)
      x->opt[x->depth] += x->last_size * (m - n);
    if (check_size(x))
      return x->rc;
  }
  x->can_repeat = 0;
  x->after_quant = 1;
  return RB_OK;
}

/* Leading (?i), (?s), (?is)...: the only flags POSIX can honour, since
 * they hold for the whole pattern. */
static void
leading_flags(struct rx *x)
{
  for (;;) {
    const char *q = x->p;
    int i = 0, s = 0;
    if (q[0] != '(' || q[1] != '?')
      return;
    for (q += 2; *q == 'i' || *q == 's'; q++) {
      i |= *q == 'i';
      s |= *q == 's';
    }
    if (*q != ')' || q == x->p + 2)
      return;
    x->icase |= i;
    x->dotnl |= s;
    x->p = q + 1;
  }
}

static rb_status
open_group(struct rx *x)
{
  const char *q = x->p + 1;

  if (q[0] == '?') {
    if (q[1] == ':') {
      q += 2;
    } else if ((q[1] == 'P' && q[2] == '<') || q[1] == '<') {
      /* Named capture: the name only matters to submatches. */
      const char *name = q + (q[1] == 'P' ? 3 : 2);
      for (q = name; is_alpha((unsigned char)*q) || is_digit((unsigned char)*q) || *q == '_'; q++)
        ;
      if (q == name || *q != '>')
        return fail(x, x->p, "invalid named group");
      q++;
    } else {
      return fail(x, x->p, "unsupported group or flag (only a leading (?i) "
                  "or (?s), (?:...) and named groups are supported)");
    }
  }
  if (x->depth >= MATCHER_MAX_DEPTH)
    return fail(x, x->p, "groups nested too deeply");
  x->p = q;
  x->depth++;
  x->prod[x->depth] = 1;
  x->size[x->depth] = 0;
  x->opt[x->depth] = 0;
  x->can_repeat = 0;
  x->after_quant = 0;
  return puts_rx(x, "(");
}

static rb_status
close_group(struct rx *x)
{
  if (x->depth == 0)
    return fail(x, x->p, "unexpected )");
  if (puts_rx(x, ")"))
    return x->rc;
  x->p++;
  x->depth--;
  x->can_repeat = 1;
  x->after_quant = 0;
  x->last_prod = x->prod[x->depth + 1];
  x->last_size = x->size[x->depth + 1];
  x->last_opt = x->opt[x->depth + 1];
  if (x->last_prod > x->prod[x->depth])
    x->prod[x->depth] = x->last_prod;
  x->size[x->depth] += x->last_size;
  x->opt[x->depth] += x->last_opt;
  return check_size(x);
}

static rb_status
translate_escape(struct rx *x)
{
  char k = x->p[1];
  cset s;
  int c;

  if (k && strchr("dDsSwW", k)) {
    perl_class((char)(k | 0x20), s);
    x->p += 2;
    if (put_set(x, s, k < 'a'))
      return x->rc;
    return atom(x, 1);
  }
  if (k == 'A' || k == 'z') {
    x->p += 2;
    x->can_repeat = x->after_quant = 0;
    return puts_rx(x, k == 'A' ? "^" : "$");
  }
  c = escape_char(x);
  if (c < 0)
    return x->rc;
  if (put_literal(x, (unsigned char)c))
    return x->rc;
  return atom(x, 1);
}

/* Translates the RE2 pattern src into x->out.  On failure x->rc is set
 * and, for RB_EINVAL, x->why and x->at say what and where. */
static rb_status
translate(struct rx *x)
{
  long n, m;
  const char *end;

  leading_flags(x);
  while (*x->p && !x->rc) {
    unsigned char c = (unsigned char)*x->p;
    switch (c) {
    case '(':
      open_group(x);
      break;
    case ')':
      close_group(x);
      break;
    case '|':
    case '^':
    case '$':
      /* '^' and '$' are anchors at the ends of the text in both dialects
       * (no REG_NEWLINE, no RE2 (?m)). */
      x->can_repeat = x->after_quant = 0;
      x->p++;
      put(x, (const char *)&c, 1);
      break;
    case '*':
    case '+':
    case '?':
      if (c == '?' && x->after_quant) {
        /* Lazy: same set of fully matching values as greedy. */
        x->after_quant = 0;
        x->p++;
        break;
      }
      if (!x->can_repeat) {
        fail(x, x->p, x->after_quant ? "invalid nested repetition operator"
                                     : "missing argument to repetition operator");
        break;
      }
      x->can_repeat = 0;
      x->after_quant = 1;
      x->p++;
      if (c == '?') {
        x->opt[x->depth] += x->last_size;
        if (check_size(x))
          break;
      }
      put(x, (const char *)&c, 1);
      break;
    case '{':
      if (read_repeat(x->p, &n, &m, &end)) {
        if (!translate_repeat(x, n, m))
          x->p = end;
        break;
      }
      x->p++;
      if (!puts_rx(x, "\\{"))
        atom(x, 1);
      break;
    case '[':
      if (!translate_bracket(x))
        atom(x, 1);
      break;
    case '.':
      x->p++;
      /* POSIX '.' matches '\n' (without REG_NEWLINE); RE2's does not. */
      if (!puts_rx(x, x->dotnl ? "." : "[^\n]"))
        atom(x, 1);
      break;
    case '\\':
      translate_escape(x);
      break;
    default:
      if (c >= 0x80) {
        /* A multi-byte character (the source is valid UTF-8) in a group,
         * so a following quantifier repeats all of it, as in RE2, even
         * when glibc counts bytes. */
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (!puts_rx(x, "(") && !put(x, x->p, len) && !puts_rx(x, ")")) {
          x->p += len;
          atom(x, 1);
        }
        break;
      }
      x->p++;
      if (!put_literal(x, c))
        atom(x, 1);
    }
  }
  if (!x->rc && x->depth)
    fail(x, x->p, "missing closing )");
  return x->rc;
}

/* Compiles m->value (an RE2 pattern) into m->re. */
static rb_status
compile(struct matcher *m, char *err)
{
  struct rx *x;
  struct buf out;
  char msg[128];
  int r, flags = REG_EXTENDED | REG_NOSUB;
  rb_status rc;

  buf_init(&out, RX_MAX_OUT);
  x = calloc(1, sizeof(*x));
  if (!x) {
    rc = RB_ENOMEM;
    goto out;
  }
  x->src = x->p = m->value;
  x->out = &out;
  x->prod[0] = 1;
  /* The group keeps the whole alternation anchored: ^(a|b)$. */
  rc = buf_puts(&out, "^(");
  if (rc)
    goto out;
  rc = translate(x);
  if (rc) {
    if (x->why)
      snprintf(err, RB_ERRLEN, "bad regex at offset %zu: %s", x->at, x->why);
    goto out;
  }
  rc = buf_puts(&out, ")$");
  if (rc)
    goto out;
  m->icase = x->icase;
  if (m->icase)
    flags |= REG_ICASE;
  r = regcomp(&m->re, out.data, flags);
  if (r) {
    /* Anything left is a construct both dialects share but glibc rejects
     * (e.g. a{2}{3}); regerror's text is static English. */
    regerror(r, &m->re, msg, sizeof(msg));
    snprintf(err, RB_ERRLEN, "bad regex: %s", msg);
    rc = r == REG_ESPACE ? RB_ENOMEM : RB_EINVAL;
    goto out;
  }
out:
  if (rc == RB_ENOMEM && !err[0])
    snprintf(err, RB_ERRLEN, "out of memory compiling regex");
  free(x);
  buf_free(&out);
  return rc;
}

/* ---- construction ---------------------------------------------------- */

static int
name_valid(const char *s)
{
  if (!name_first((unsigned char)*s))
    return 0;
  for (s++; *s; s++)
    if (!name_char((unsigned char)*s))
      return 0;
  return 1;
}

/* Takes ownership of name and value (both malloc'd) whatever happens. */
static rb_status
build(char *name, char *value, enum matcher_type type, struct matcher **out,
      char *err)
{
  struct matcher *m = NULL;
  size_t vlen = strlen(value);
  int is_re = type == MATCHER_RE || type == MATCHER_NRE;
  rb_status rc = RB_OK;

  *out = NULL;
  err[0] = '\0';
  if ((unsigned)type > MATCHER_NRE) {
    snprintf(err, RB_ERRLEN, "unknown matcher type");
    rc = RB_EINVAL;
    goto out;
  }
  if (strlen(name) > MATCHER_MAX_NAME) {
    snprintf(err, RB_ERRLEN, "label name longer than %d bytes", MATCHER_MAX_NAME);
    rc = RB_ETOOBIG;
    goto out;
  }
  if (!name_valid(name)) {
    snprintf(err, RB_ERRLEN, "label name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
    rc = RB_EINVAL;
    goto out;
  }
  if (vlen > (is_re ? MATCHER_MAX_REGEX : MATCHER_MAX_VALUE)) {
    snprintf(err, RB_ERRLEN, "%s longer than %d bytes", is_re ? "regex" : "value",
             is_re ? MATCHER_MAX_REGEX : MATCHER_MAX_VALUE);
    rc = RB_ETOOBIG;
    goto out;
  }
  if (utf8_invalid_at(value, vlen) >= 0) {
    snprintf(err, RB_ERRLEN, "matcher value is not valid UTF-8");
    rc = RB_EINVAL;
    goto out;
  }
  m = calloc(1, sizeof(*m));
  if (!m) {
    rc = RB_ENOMEM;
    goto out;
  }
  m->type = type;
  m->name = name;
  m->value = value;
  name = value = NULL;
  if (is_re) {
    rc = compile(m, err);
    if (rc)
      goto out;
  }
  *out = m;
  m = NULL;
out:
  if (m) {
    /* Not compiled (or compile failed): no regfree. */
    free(m->name);
    free(m->value);
    free(m);
  }
  free(name);
  free(value);
  if (rc == RB_ENOMEM && !err[0])
    snprintf(err, RB_ERRLEN, "out of memory");
  return rc;
}

rb_status
matcher_new(const char *name, const char *value, enum matcher_type type,
            struct matcher **out, char *err)
{
  char *n = strdup(name ? name : "");
  char *v = strdup(value ? value : "");

  if (!n || !v) {
    free(n);
    free(v);
    *out = NULL;
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  return build(n, v, type, out, err);
}

rb_status
matcher_from_api(const char *name, const char *value, int is_regex,
                 int is_equal, struct matcher **out, char *err)
{
  enum matcher_type t;

  if (is_regex)
    t = is_equal ? MATCHER_RE : MATCHER_NRE;
  else
    t = is_equal ? MATCHER_EQ : MATCHER_NE;
  return matcher_new(name, value, t, out, err);
}

/* ---- parsing --------------------------------------------------------- */

/* Unescapes a raw value (what follows the operator, trailing whitespace
 * already cut) exactly as parse.go does; see matcher.h.  *out is the
 * caller's on RB_OK. */
static rb_status
unquote(const char *raw, size_t n, char **out, char *err)
{
  int quoted = 0, escaped = 0;
  char *v, *w;

  if (n && raw[0] == '"') {
    quoted = 1;
    raw++;
    n--;
  }
  v = malloc(n + 1);
  if (!v) {
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  w = v;
  for (size_t i = 0; i < n; i++) {
    char c = raw[i];
    if (escaped) {
      escaped = 0;
      if (c == 'n') {
        *w++ = '\n';
      } else if (c == '"' || c == '\\') {
        *w++ = c;
      } else {
        /* A spurious escape stays a literal backslash. */
        *w++ = '\\';
        *w++ = c;
      }
    } else if (c == '\\') {
      if (i + 1 < n)
        escaped = 1;
      else
        *w++ = '\\'; /* last byte: literal */
    } else if (c == '"') {
      if (!quoted) {
        snprintf(err, RB_ERRLEN, "unescaped double quote in unquoted value "
                 "(quote the value and write \\\")");
        goto bad;
      }
      if (i + 1 < n) {
        snprintf(err, RB_ERRLEN, "unescaped double quote inside quoted value");
        goto bad;
      }
      quoted = 0; /* the closing quote */
    } else {
      *w++ = c;
    }
  }
  if (quoted) {
    snprintf(err, RB_ERRLEN, "unterminated quoted value");
    goto bad;
  }
  *w = '\0';
  *out = v;
  return RB_OK;
bad:
  free(v);
  return RB_EINVAL;
}

/* Parses one matcher from s[0..len), the equivalent of parse.go's
 * ^\s*(name)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$ followed by unquoting. */
static rb_status
parse_one(const char *s, size_t len, struct matcher **out, char *err)
{
  const char *p = s, *end = s + len, *name, *vend;
  enum matcher_type type;
  size_t name_len;
  char *n = NULL, *v = NULL;
  rb_status rc;

  *out = NULL;
  while (p < end && is_ws((unsigned char)*p))
    p++;
  name = p;
  if (p == end || !name_first((unsigned char)*p)) {
    snprintf(err, RB_ERRLEN, p == end ? "empty matcher"
             : "expected a label name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
    return RB_EINVAL;
  }
  while (p < end && name_char((unsigned char)*p))
    p++;
  name_len = (size_t)(p - name);
  if (p < end && !is_ws((unsigned char)*p) && *p != '=' && *p != '!') {
    snprintf(err, RB_ERRLEN, "invalid character in label name "
             "(allowed: [a-zA-Z0-9_:])");
    return RB_EINVAL;
  }
  while (p < end && is_ws((unsigned char)*p))
    p++;
  if (end - p >= 2 && p[0] == '=' && p[1] == '~') {
    type = MATCHER_RE;
    p += 2;
  } else if (p < end && p[0] == '=') {
    type = MATCHER_EQ;
    p++;
  } else if (end - p >= 2 && p[0] == '!' && p[1] == '=') {
    type = MATCHER_NE;
    p += 2;
  } else if (end - p >= 2 && p[0] == '!' && p[1] == '~') {
    type = MATCHER_NRE;
    p += 2;
  } else {
    snprintf(err, RB_ERRLEN, "expected = != =~ or !~ after the label name");
    return RB_EINVAL;
  }
  while (p < end && is_ws((unsigned char)*p))
    p++;
  vend = end;
  while (vend > p && is_ws((unsigned char)vend[-1]))
    vend--;
  if (name_len > MATCHER_MAX_NAME) {
    snprintf(err, RB_ERRLEN, "label name longer than %d bytes", MATCHER_MAX_NAME);
    return RB_ETOOBIG;
  }
  n = strndup(name, name_len);
  if (!n) {
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  rc = unquote(p, (size_t)(vend - p), &v, err);
  if (rc) {
    free(n);
    return rc;
  }
  return build(n, v, type, out, err);
}

/* Bounds s and checks it is UTF-8; returns its length through *len. */
static rb_status
check_input(const char *s, size_t *len, char *err)
{
  *len = strnlen(s, MATCHERS_MAX_INPUT + 1);
  if (*len > MATCHERS_MAX_INPUT) {
    snprintf(err, RB_ERRLEN, "matchers longer than %d bytes", MATCHERS_MAX_INPUT);
    return RB_ETOOBIG;
  }
  if (utf8_invalid_at(s, *len) >= 0) {
    snprintf(err, RB_ERRLEN, "matchers are not valid UTF-8");
    return RB_EINVAL;
  }
  return RB_OK;
}

rb_status
matcher_parse(const char *s, struct matcher **out, char *err)
{
  size_t len;
  rb_status rc;

  *out = NULL;
  err[0] = '\0';
  rc = check_input(s ? s : "", &len, err);
  if (rc)
    return rc;
  return parse_one(s ? s : "", len, out, err);
}

/* Length of the Unicode White_Space character at p (Go's unicode.IsSpace,
 * which strings.TrimSpace uses), or 0.  p < end and the text is UTF-8. */
static size_t
uspace_at(const char *p, const char *end)
{
  const unsigned char *u = (const unsigned char *)p;
  size_t left = (size_t)(end - p);

  if (*u == '\v' || is_ws(*u))
    return 1;
  if (left >= 2 && u[0] == 0xc2 && (u[1] == 0x85 || u[1] == 0xa0))
    return 2;
  if (left < 3)
    return 0;
  if ((u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80) ||           /* U+1680 */
      (u[0] == 0xe2 && u[1] == 0x80 &&
       (u[2] <= 0x8a || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf)) ||
      (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) ||           /* U+205F */
      (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80))             /* U+3000 */
    return 3;
  return 0;
}

static void
trim_unicode_space(const char **b, const char **e)
{
  size_t k;

  while (*b < *e && (k = uspace_at(*b, *e)) > 0)
    *b += k;
  /* Backwards: a space ending at *e is 1 to 3 bytes long. */
  for (;;) {
    size_t avail = (size_t)(*e - *b);
    for (k = 1; k <= 3 && k <= avail; k++)
      if (uspace_at(*e - k, *e) == k)
        break;
    if (k > 3 || k > avail)
      return;
    *e -= k;
  }
}

static rb_status
list_add(struct matchers *ms, const char *tok, size_t len, char *err)
{
  struct matcher *m, **grown;
  char why[RB_ERRLEN];
  rb_status rc;

  if (ms->n >= MATCHERS_MAX) {
    snprintf(err, RB_ERRLEN, "more than %d matchers", MATCHERS_MAX);
    return RB_ETOOBIG;
  }
  why[0] = '\0';
  rc = parse_one(tok, len, &m, why);
  if (rc) {
    snprintf(err, RB_ERRLEN, "matcher %zu: %s", ms->n + 1, why);
    return rc;
  }
  grown = realloc(ms->m, (ms->n + 1) * sizeof(*ms->m));
  if (!grown) {
    matcher_free(m);
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  ms->m = grown;
  ms->m[ms->n++] = m;
  return RB_OK;
}

rb_status
matchers_parse(const char *s, struct matchers **out, char *err)
{
  struct matchers *ms = NULL;
  const char *p, *end, *tok;
  int in_quotes = 0, escaped = 0;
  size_t len;
  rb_status rc;

  *out = NULL;
  err[0] = '\0';
  s = s ? s : "";
  rc = check_input(s, &len, err);
  if (rc)
    goto out;
  ms = calloc(1, sizeof(*ms));
  if (!ms) {
    snprintf(err, RB_ERRLEN, "out of memory");
    rc = RB_ENOMEM;
    goto out;
  }
  /* Exactly one '{' and one '}' come off, with no trimming first, as
   * strings.TrimPrefix/TrimSuffix do; " {a=b}" is therefore an error. */
  p = s;
  end = s + len;
  if (p < end && *p == '{')
    p++;
  if (end > p && end[-1] == '}')
    end--;
  /* Split at commas outside quotes.  The escape state deliberately
   * mirrors parse.go, quirks included: a comma does not reset it. */
  for (tok = p; p < end; p++) {
    if (*p == ',') {
      if (in_quotes)
        continue;
      rc = list_add(ms, tok, (size_t)(p - tok), err);
      if (rc)
        goto out;
      tok = p + 1;
    } else if (*p == '"') {
      if (!escaped)
        in_quotes = !in_quotes;
      else
        escaped = 0;
    } else if (*p == '\\') {
      escaped = !escaped;
    } else {
      escaped = 0;
    }
  }
  /* Only the last element is trimmed (with Unicode spaces) and may be
   * empty, which is what allows a trailing comma. */
  trim_unicode_space(&tok, &end);
  if (tok < end) {
    rc = list_add(ms, tok, (size_t)(end - tok), err);
    if (rc)
      goto out;
  }
  *out = ms;
  ms = NULL;
out:
  matchers_free(ms);
  return rc;
}

/* ---- matching, formatting -------------------------------------------- */

int
matcher_match(const struct matcher *m, const struct am_labels *ls)
{
  const char *v = ls ? am_label(ls, m->name) : NULL;
  int r;

  if (!v)
    v = ""; /* Alertmanager: an absent label is the empty string */
  switch (m->type) {
  case MATCHER_EQ:
    return strcmp(v, m->value) == 0;
  case MATCHER_NE:
    return strcmp(v, m->value) != 0;
  case MATCHER_RE:
    return regexec(&m->re, v, 0, NULL, 0) == 0;
  case MATCHER_NRE:
    r = regexec(&m->re, v, 0, NULL, 0);
    return r == REG_NOMATCH; /* an error (REG_ESPACE) is not a match */
  }
  return 0;
}

int
matchers_match(const struct matchers *ms, const struct am_labels *ls)
{
  for (size_t i = 0; ms && i < ms->n; i++)
    if (!matcher_match(ms->m[i], ls))
      return 0;
  return 1;
}

rb_status
matcher_format(const struct matcher *m, struct buf *b)
{
  const char *p, *run;
  rb_status rc;

  rc = buf_puts(b, m->name);
  if (rc)
    return rc;
  rc = buf_puts(b, op_str[m->type]);
  if (rc)
    return rc;
  rc = buf_append(b, "\"", 1);
  /* openMetricsEscape: only \ newline and " are escaped. */
  for (p = run = m->value; !rc && *p; p++) {
    const char *esc = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : NULL;
    if (!esc)
      continue;
    rc = buf_append(b, run, (size_t)(p - run));
    if (!rc)
      rc = buf_append(b, esc, 2);
    run = p + 1;
  }
  if (!rc)
    rc = buf_append(b, run, (size_t)(p - run));
  if (!rc)
    rc = buf_append(b, "\"", 1);
  return rc;
}

rb_status
matchers_format(const struct matchers *ms, struct buf *b)
{
  rb_status rc = buf_append(b, "{", 1);

  for (size_t i = 0; !rc && ms && i < ms->n; i++) {
    if (i)
      rc = buf_append(b, ",", 1);
    if (!rc)
      rc = matcher_format(ms->m[i], b);
  }
  if (!rc)
    rc = buf_append(b, "}", 1);
  return rc;
}

void
matcher_free(struct matcher *m)
{
  if (!m)
    return;
  if (m->type == MATCHER_RE || m->type == MATCHER_NRE)
    regfree(&m->re);
  free(m->name);
  free(m->value);
  free(m);
}

void
matchers_free(struct matchers *ms)
{
  if (!ms)
    return;
  for (size_t i = 0; i < ms->n; i++)
    matcher_free(ms->m[i]);
  free(ms->m);
  free(ms);
}
