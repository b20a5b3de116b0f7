/*
 * matcher.h - Alertmanager label matchers: parsing, matching, formatting.
 *
 * Remediation plans (and later silences) select alerts with the same
 * matchers operators already write in Alertmanager's `matchers:` config
 * field and in amtool, so the rules here follow Alertmanager's classic
 * parser (pkg/labels/parse.go) and matcher (pkg/labels/matcher.go):
 *
 *   - One matcher is `name op value`, op one of = != =~ !~, with any
 *     whitespace ([\t\n\f\r ]) around each token.  The name matches
 *     [a-zA-Z_:][a-zA-Z0-9_:]* (parse.go allows ':' although Prometheus
 *     label names do not contain it; such a matcher simply sees "").
 *   - The value may be double-quoted.  Inside it \" \\ and \n are escapes;
 *     any other backslash is literal, as is a backslash at the very end.
 *     An unescaped '"' is only allowed as the closing quote.  Unquoted
 *     values lose trailing whitespace; quoted ones keep everything.
 *   - A list is comma separated, optionally inside one leading '{' and one
 *     trailing '}'; commas inside double quotes do not separate, a trailing
 *     comma is allowed, an empty element (",,") is an error.  "" and "{}"
 *     are the empty list, which matches every label set.
 *   - A missing label has the value "", so foo="" matches alerts without
 *     foo, foo!="" requires foo, and foo=~".*" matches everything.
 *   - A list matches when every matcher matches.
 *
 * Where runbookd is stricter than Alertmanager: input must be valid UTF-8
 * (Alertmanager's list parser silently turns bad bytes into U+FFFD); sizes
 * are bounded (MATCHER_MAX_*); regex patterns must be ones the translation
 * below can carry over exactly.
 *
 * Regular expressions.  Alertmanager compiles `^(?:re)$` with Go's RE2.
 * runbookd has no RE2, so the RE2 pattern is translated into a POSIX
 * extended regex and compiled with regcomp(REG_EXTENDED|REG_NOSUB) as
 * `^(translated)$`.  Handing RE2 syntax to regcomp untranslated would be
 * wrong silently (glibc reads \d as a literal 'd'), so the translation
 * rewrites what it can express exactly and rejects the rest with an error
 * naming the construct:
 *   - \d \D \s \S \w \W, [[:alpha:]]-style classes (ASCII, as in RE2),
 *     \t \n \r \f \v \a, escaped punctuation, \A and \z: rewritten.
 *   - '.' does not match a newline, as in RE2 (a leading (?s) makes it
 *     match); a leading (?i) makes the pattern case-insensitive.
 *   - (?:...), (?P<name>...) and (?<name>...) become plain groups.
 *   - Lazy quantifiers (*? +? ?? {n,m}?) are accepted and mean the same
 *     as the greedy ones: with the whole value anchored, laziness cannot
 *     change whether a value matches.
 *   - Rejected: \b \B \p{..} \x.. octal escapes \Q..\E, flags other than a
 *     leading (?i)/(?s), non-ASCII characters inside [...], empty classes,
 *     repetition counts over 1000 (also nested: RE2's own limit), more
 *     than 300 optional positions (x? or the copies beyond n in x{n,m},
 *     counted after expansion: glibc's matcher, unlike RE2's, slows down
 *     with their cube; (.?){1000} would take 0.5 s a match), nesting
 *     deeper than MATCHER_MAX_DEPTH, and an unbalanced ')' (Alertmanager
 *     accepts `a)|(b` by accident, since it only pastes the pattern
 *     between `^(?:` and `)$`; here it is an error).
 * Remaining differences: outside a UTF-8 LC_CTYPE, glibc matches bytes,
 * not characters, so '.' or [^a] consume one byte of a multi-byte
 * character (patterns like .* or literal non-ASCII text are unaffected);
 * (?i) folds ASCII only in the C locale, where RE2 folds all of Unicode.
 *
 * Threads: a constructed matcher or list is immutable; matcher_match and
 * matchers_match may run on any number of threads at once (glibc's
 * regexec does not modify the compiled regex_t).
 */
#ifndef RUNBOOKD_MATCHER_H
#define RUNBOOKD_MATCHER_H

#include "buf.h"
#include "payload.h"
#include "rb.h"

#include <regex.h>

/* Limits.  A pattern's length counts its source (after unquoting). */
#define MATCHER_MAX_NAME 1024   /* bytes in a label name */
#define MATCHER_MAX_VALUE 16384 /* bytes in an = or != value */
#define MATCHER_MAX_REGEX 4096  /* bytes in an =~ or !~ pattern */
#define MATCHER_MAX_DEPTH 100   /* nested groups in a pattern */
#define MATCHERS_MAX 256        /* matchers in one list */
#define MATCHERS_MAX_INPUT 65536 /* bytes of text given to a parser */

enum matcher_type {
  MATCHER_EQ = 0, /* =  */
  MATCHER_NE,     /* != */
  MATCHER_RE,     /* =~ */
  MATCHER_NRE     /* !~ */
};

/* Read-only after construction. */
struct matcher {
  enum matcher_type type;
  char *name;
  char *value;   /* unescaped; for RE/NRE the RE2 source as written */
  int icase;     /* RE/NRE: a leading (?i) was given */
  regex_t re;    /* RE/NRE only: ^(translated)$ */
};

struct matchers {
  struct matcher **m;
  size_t n;
};

/* Builds a matcher from its parts, as Alertmanager's NewMatcher does but
 * also checking the name, UTF-8 and the limits.  On RB_OK *out is the
 * caller's (matcher_free).  RB_EINVAL (bad name, bad UTF-8, a pattern that
 * does not compile) and RB_ETOOBIG (over a MATCHER_MAX_* limit) write the
 * reason into err[RB_ERRLEN]; RB_ENOMEM.  *out is NULL on failure. */
rb_status matcher_new(const char *name, const char *value,
                      enum matcher_type type, struct matcher **out,
                      char *err);

/* The API v2 silence form {name, value, isRegex, isEqual}.  Alertmanager
 * defaults an absent isEqual to true; callers decoding JSON pass 1 then. */
rb_status matcher_from_api(const char *name, const char *value, int is_regex,
                           int is_equal, struct matcher **out, char *err);

/* Parses exactly one matcher (ParseMatcher), e.g. `severity=~"crit|high"`.
 * Ownership and errors as matcher_new; also RB_ETOOBIG when s is longer
 * than MATCHERS_MAX_INPUT. */
rb_status matcher_parse(const char *s, struct matcher **out, char *err);

/* Parses a list (ParseMatchers), e.g. `{a="b", c=~"d"}` or `a=b,c!=d`.
 * On RB_OK *out is the caller's (matchers_free), possibly with n == 0.
 * Errors name the element: "matcher 2: ...".  RB_ETOOBIG past
 * MATCHERS_MAX elements or MATCHERS_MAX_INPUT bytes. */
rb_status matchers_parse(const char *s, struct matchers **out, char *err);

/* Returns 1 when the matcher holds for the label set, else 0.  A missing
 * label is "".  If regexec fails (out of memory) the matcher does not
 * match, for =~ and !~ alike: failing closed keeps remediation off. */
int matcher_match(const struct matcher *m, const struct am_labels *ls);

/* Returns 1 when every matcher holds (so an empty list always matches). */
int matchers_match(const struct matchers *ms, const struct am_labels *ls);

/* Appends Alertmanager's String() form: name="value" with \\ \" \n
 * escaped, e.g. job=~"api|web".  Parsing the result gives the same
 * matcher.  Errors are the buffer's (RB_ETOOBIG, RB_ENOMEM). */
rb_status matcher_format(const struct matcher *m, struct buf *b);

/* Appends {a="b",c=~"d"} (Matchers.String()). */
rb_status matchers_format(const struct matchers *ms, struct buf *b);

/* Both accept NULL. */
void matcher_free(struct matcher *m);
void matchers_free(struct matchers *ms);

#endif
