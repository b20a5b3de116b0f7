/*
 * svg.c - the report's timeline chart: one inline SVG with a time axis and
 * four lanes (the alert's firing span and its receipt; each remediation
 * step and decision; pages and escalations; people's acknowledgements,
 * comments and the resolution).  Meaning never rests on colour alone:
 * every outcome has its own shape and a text label, and the print style
 * sheet turns the chart black on white.  Each lane draws at most MAX_MARKS
 * marks and says how many more the timeline table holds.
 */
#include "report_int.h"

#include "rbtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 1000
#define LEFT 120
#define RIGHT 30
#define TOP 34
#define LANE 64
#define NLANES 4
#define AXIS 44
#define LEGEND 50
#define MAX_MARKS 400

struct chart {
  const struct report *r;
  struct rp_w *w;
  int64_t t0, t1;
  int lane_marks[NLANES];
  int lane_more[NLANES];
};

static double
xpos(const struct chart *c, int64_t t)
{
  double f = (double)(t - c->t0) / (double)(c->t1 - c->t0);
  if (f < 0)
    f = 0;
  if (f > 1)
    f = 1;
  return LEFT + f * (W - LEFT - RIGHT);
}

static double
lane_y(int lane)
{
  return TOP + lane * LANE;
}

/* Whether another mark fits in lane; counts the ones left out. */
static int
room(struct chart *c, int lane)
{
  if (c->lane_marks[lane] >= MAX_MARKS) {
    c->lane_more[lane]++;
    return 0;
  }
  c->lane_marks[lane]++;
  return 1;
}

static void
title(struct chart *c, const char *text)
{
  w_puts(c->w, "<title>");
  w_html(c->w, text);
  w_puts(c->w, "</title>");
}

static void
label(struct chart *c, double x, double y, const char *cls, const char *text)
{
  w_printf(c->w, "<text x=\"%.1f\" y=\"%.1f\" class=\"%s\">", x, y, cls);
  w_html(c->w, text);
  w_puts(c->w, "</text>\n");
}

/* Shapes, centred on (x, y). */
enum shape { SH_DOT, SH_RING, SH_CROSS, SH_SQUARE, SH_TRI, SH_TRI_OPEN, SH_DIAMOND, SH_ARROW };

static void
shape(struct chart *c, enum shape s, double x, double y, const char *tip)
{
  struct rp_w *w = c->w;
  switch (s) {
  case SH_DOT:
    w_printf(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" class=\"m-ok\">", x, y);
    title(c, tip);
    w_puts(w, "</circle>\n");
    break;
  case SH_RING:
    w_printf(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" class=\"m-open\">", x, y);
    title(c, tip);
    w_puts(w, "</circle>\n");
    break;
  case SH_CROSS:
    w_printf(w, "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" class=\"m-fail\">", x - 5, y - 5);
    title(c, tip);
    w_puts(w, "</path>\n");
    break;
  case SH_SQUARE:
    w_printf(w, "<path d=\"M%.1f %.1fh10v10h-10zl10 10\" class=\"m-refused\">", x - 5, y - 5);
    title(c, tip);
    w_puts(w, "</path>\n");
    break;
  case SH_TRI:
  case SH_TRI_OPEN:
    w_printf(w, "<path d=\"M%.1f %.1fl6 10h-12z\" class=\"%s\">", x, y - 6,
             s == SH_TRI ? "m-ok" : "m-open");
    title(c, tip);
    w_puts(w, "</path>\n");
    if (s == SH_TRI_OPEN)
      w_printf(w, "<path d=\"M%.1f %.1fl6 6m0 -6l-6 6\" class=\"m-fail\"/>\n", x - 3, y - 1);
    break;
  case SH_DIAMOND:
    w_printf(w, "<path d=\"M%.1f %.1fl6 6l-6 6l-6 -6z\" class=\"m-esc\">", x, y - 6);
    title(c, tip);
    w_puts(w, "</path>\n");
    break;
  case SH_ARROW:
    w_printf(w, "<path d=\"M%.1f %.1fl8 5l-8 5z\" class=\"m-open\">", x - 4, y - 5);
    title(c, tip);
    w_puts(w, "</path>\n");
    break;
  }
}

/* A vertical rule across the lanes with a label above the plot. */
static void
rule(struct chart *c, int64_t t, const char *cls, const char *text, int row)
{
  double x = xpos(c, t);
  w_printf(c->w, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"%s\"/>\n", x, TOP - 4,
           x, TOP + NLANES * LANE, cls);
  label(c, x + 3, TOP - 8 - 11 * row, "rule-label", text);
}

static int64_t
nice_step(int64_t span)
{
  static const int64_t steps[] = { 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000,
                                   300000, 600000, 900000, 1800000, 3600000, 7200000,
                                   10800000, 21600000, 43200000, 86400000, 172800000,
                                   604800000 };
  for (size_t i = 0; i < RB_ARRAY_LEN(steps); i++)
    if (span / steps[i] <= 8)
      return steps[i];
  return span / 8 > 0 ? span / 8 : 1;
}

static void
axis(struct chart *c)
{
  struct rp_w *w = c->w;
  int y = TOP + NLANES * LANE;
  int64_t step = nice_step(c->t1 - c->t0), z = c->r->t0_ms, k0, k1;

  w_printf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", LEFT, y,
           W - RIGHT, y);
  /* Ticks on whole steps from the alert's start (T+0). */
  k0 = (c->t0 - z) / step - 1;
  k1 = (c->t1 - z) / step + 1;
  for (int64_t k = k0; k <= k1; k++) {
    int64_t t = z + k * step;
    char off[48], abs[48];
    double x;
    if (t < c->t0 || t > c->t1)
      continue;
    x = xpos(c, t);
    rp_offset(c->r, t, off, sizeof(off));
    rb_time_fmt_ms(t, abs, sizeof(abs));
    w_printf(w, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"tick\"/>\n", x, TOP, x,
             y + 5);
    w_printf(w, "<text x=\"%.1f\" y=\"%d\" class=\"tick-label\">T", x, y + 18);
    w_html(w, off);
    w_printf(w, "</text>\n<text x=\"%.1f\" y=\"%d\" class=\"tick-time\">%.8s</text>\n", x, y + 32,
             abs + 11);
  }
}

static void
lanes(struct chart *c)
{
  static const char *const names[NLANES] = { "Alert", "Remediation", "Paging", "People" };
  for (int i = 0; i < NLANES; i++) {
    w_printf(c->w, "<rect x=\"0\" y=\"%.1f\" width=\"%d\" height=\"%d\" class=\"lane%s\"/>\n",
             lane_y(i), W, LANE, i % 2 ? " alt" : "");
    label(c, 6, lane_y(i) + LANE / 2 + 4, "lane-label", names[i]);
  }
}

static void
alert_lane(struct chart *c)
{
  const struct report *r = c->r;
  double y = lane_y(0);
  int64_t end = r->t.end_ms ? r->t.end_ms : r->as_of_ms;
  double x0 = xpos(c, r->t.start_ms), x1 = xpos(c, end);
  char tip[256], d[48];

  if (x1 - x0 < 2)
    x1 = x0 + 2;
  snprintf(tip, sizeof(tip), "firing %s%s", rp_dur(end - r->t.start_ms, d, sizeof(d)),
           r->t.end_ms ? "" : " so far (still open)");
  w_printf(c->w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" class=\"firing\">",
           x0, y + 10, x1 - x0);
  title(c, tip);
  w_puts(c->w, "</rect>\n");
  label(c, x0 + 2, y + 40, "mark-label", r->t.end_ms ? "firing" : "firing, still open");
  if (!r->t.end_ms)
    shape(c, SH_ARROW, x1, y + 18, "still firing");
  if (!r->t.missed_firing) {
    double xr = xpos(c, r->t.received_ms);
    shape(c, SH_TRI, xr, y + 52, "received by runbookd");
    label(c, xr + 8, y + 57, "mark-label", "received");
  }
}

static enum shape
step_shape(const char *outcome)
{
  if (strcmp(outcome, "succeeded") == 0 || strcmp(outcome, "verified") == 0)
    return SH_DOT;
  if (strcmp(outcome, "failed") == 0 || strcmp(outcome, "not verified") == 0)
    return SH_CROSS;
  if (strcmp(outcome, "refused") == 0)
    return SH_SQUARE;
  if (strcmp(outcome, "skipped") == 0)
    return SH_RING;
  return SH_ARROW;
}

static void
remediation_lane(struct chart *c)
{
  const struct report *r = c->r;
  double y = lane_y(1);
  char lab[64], tip[512];

  for (size_t i = 0; i < r->n_steps; i++) {
    const struct rp_step *s = &r->steps[i];
    int64_t end = s->ended_ms ? s->ended_ms : (r->as_of_ms ? r->as_of_ms : s->started_ms);
    double x0 = xpos(c, s->started_ms), x1 = xpos(c, end);
    int row = (int)(i % 3);
    if (!room(c, 1))
      continue;
    if (x1 - x0 < 1)
      x1 = x0 + 1;
    w_printf(c->w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"6\" class=\"step\"/>\n",
             x0, y + 12 + row * 16, x1 - x0);
    snprintf(tip, sizeof(tip), "S%zu %s (%s): %s", s->seq, s->name ? s->name : "",
             s->kind ? s->kind : "", s->outcome);
    shape(c, step_shape(s->outcome), x1, y + 15 + row * 16, tip);
    snprintf(lab, sizeof(lab), "S%zu %s", s->seq, rp_step_outcome_label(s->outcome));
    label(c, x1 + 8, y + 19 + row * 16, "mark-label", lab);
  }
  /* Decisions without a run: refusals and limits. */
  for (size_t i = 0; i < r->n_ev; i++) {
    const char *k = r->ev[i].kind;
    struct buf t;
    if (strcmp(k, "remediation refused") != 0 && strcmp(k, "rate-limited") != 0)
      continue;
    if (!room(c, 1))
      continue;
    buf_init(&t, 0);
    buf_printf(&t, "%s: ", k);
    rp_event_text(r, i, &t);
    shape(c, SH_SQUARE, xpos(c, r->ev[i].at_ms), y + 50, t.data ? t.data : k);
    label(c, xpos(c, r->ev[i].at_ms) + 8, y + 54, "mark-label",
          strcmp(k, "rate-limited") == 0 ? "RATE-LIMITED" : "REFUSED");
    buf_free(&t);
  }
}

static void
paging_lane(struct chart *c)
{
  const struct report *r = c->r;
  double y = lane_y(2);
  char lab[64];
  struct buf t;

  buf_init(&t, 0);
  for (size_t i = 0; i < r->n_pages; i++) {
    const struct rp_page *p = &r->pages[i];
    double x = xpos(c, r->ev[p->ev].at_ms);
    int row = (int)(i % 2);
    if (!room(c, 2))
      continue;
    buf_reset(&t);
    buf_printf(&t, "P%zu ", p->seq);
    rp_event_text(r, p->ev, &t);
    shape(c, p->delivered ? SH_TRI : SH_TRI_OPEN, x, y + 14 + row * 18, t.data ? t.data : "");
    snprintf(lab, sizeof(lab), "P%zu%s", p->seq, p->delivered ? "" : " FAILED");
    label(c, x + 8, y + 18 + row * 18, "mark-label", lab);
  }
  for (size_t i = 0; i < r->n_escs; i++) {
    const struct rp_esc *e = &r->escs[i];
    double x = xpos(c, r->ev[e->ev].at_ms);
    if (!room(c, 2))
      continue;
    buf_reset(&t);
    buf_printf(&t, "E%zu %s: ", e->seq, e->kind);
    rp_event_text(r, e->ev, &t);
    shape(c, SH_DIAMOND, x, y + 52, t.data ? t.data : "");
    snprintf(lab, sizeof(lab), "E%zu", e->seq);
    label(c, x + 8, y + 57, "mark-label", lab);
  }
  buf_free(&t);
}

static void
people_lane(struct chart *c)
{
  const struct report *r = c->r;
  double y = lane_y(3);
  int rules = 0;
  struct buf t;

  buf_init(&t, 0);
  for (size_t i = 0; i < r->n_ev; i++) {
    const struct tl_event *e = &r->ev[i];
    const char *k = e->kind;
    double x = xpos(c, e->at_ms);
    enum shape s;
    const char *lab;

    if (strcmp(k, "acknowledged") == 0) {
      s = SH_DOT;
      lab = "ACK";
    } else if (strcmp(k, "unacknowledged") == 0) {
      s = SH_RING;
      lab = "UNACK";
    } else if (strcmp(k, "commented") == 0) {
      s = SH_SQUARE;
      lab = "comment";
    } else if (strcmp(k, "resolved") == 0) {
      s = SH_DIAMOND;
      lab = "RESOLVED";
    } else {
      continue;
    }
    if (!room(c, 3))
      continue;
    buf_reset(&t);
    rp_event_text(r, i, &t);
    shape(c, s, x, y + 14 + (c->lane_marks[3] % 3) * 18, t.data ? t.data : k);
    label(c, x + 8, y + 18 + (c->lane_marks[3] % 3) * 18, "mark-label", lab);
    /* The first acknowledgement and the resolution get a rule. */
    if ((strcmp(k, "resolved") == 0 || (strcmp(k, "acknowledged") == 0 && e->at_ms == r->t.response_ms))
        && rules < 4)
      rule(c, e->at_ms, strcmp(k, "resolved") == 0 ? "rule-resolved" : "rule-ack", lab, rules++ % 2);
  }
  buf_free(&t);
}

static void
legend(struct chart *c)
{
  static const struct {
    enum shape s;
    const char *text;
  } items[] = {
    { SH_DOT, "succeeded / ack" }, { SH_CROSS, "failed" }, { SH_SQUARE, "refused / comment" },
    { SH_RING, "skipped / unack" }, { SH_ARROW, "running" }, { SH_TRI, "page delivered" },
    { SH_TRI_OPEN, "page failed" }, { SH_DIAMOND, "escalation / resolved" },
  };
  double y = TOP + NLANES * LANE + AXIS + 14;
  char more[160];
  size_t used = 0;

  for (size_t i = 0; i < RB_ARRAY_LEN(items); i++) {
    double x = LEFT + (double)(i % 4) * 215;
    double yy = y + (double)(i / 4) * 18;
    shape(c, items[i].s, x, yy, items[i].text);
    label(c, x + 10, yy + 4, "legend", items[i].text);
  }
  more[0] = '\0';
  for (int i = 0; i < NLANES; i++)
    if (c->lane_more[i])
      used += (size_t)snprintf(more + used, used < sizeof(more) ? sizeof(more) - used : 0,
                               "%s%d more %s marks", used ? ", " : "", c->lane_more[i],
                               i == 1 ? "remediation" : i == 2 ? "paging" : "people");
  if (more[0]) {
    w_printf(c->w, "<text x=\"%d\" y=\"%.1f\" class=\"legend\">Not drawn: ", LEFT, y + 36);
    w_html(c->w, more);
    w_puts(c->w, " (see the timeline table)</text>\n");
  }
}

void
rp_svg(const struct report *r, struct rp_w *w)
{
  struct chart c;
  int64_t pad;
  int h = TOP + NLANES * LANE + AXIS + LEGEND;

  memset(&c, 0, sizeof(c));
  c.r = r;
  c.w = w;
  c.t0 = r->t.start_ms;
  c.t1 = r->t.end_ms ? r->t.end_ms : r->as_of_ms;
  for (size_t i = 0; i < r->n_ev; i++) {
    if (r->ev[i].at_ms < c.t0)
      c.t0 = r->ev[i].at_ms;
    if (r->ev[i].at_ms > c.t1)
      c.t1 = r->ev[i].at_ms;
  }
  if (c.t1 <= c.t0)
    c.t1 = c.t0 + 1000;
  pad = (c.t1 - c.t0) / 50;
  c.t0 -= pad;
  c.t1 += pad * 6; /* room for the last labels */

  w_printf(w,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"100%%\""
           " role=\"img\" aria-labelledby=\"chart-title\" class=\"chart\">\n",
           W, h);
  w_puts(w, "<title id=\"chart-title\">Timeline of incident ");
  w_printf(w, "%lld", (long long)r->inc.id);
  w_puts(w, ": firing span, remediation steps, pages, escalations, acknowledgement and"
            " resolution</title>\n");
  w_puts(w, "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\""
            " patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" class=\"hatch-bg\"/>"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" class=\"hatch-line\"/></pattern></defs>\n");
  lanes(&c);
  axis(&c);
  alert_lane(&c);
  remediation_lane(&c);
  paging_lane(&c);
  people_lane(&c);
  legend(&c);
  w_puts(w, "</svg>\n");
}
