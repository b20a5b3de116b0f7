/*
 * remediation-send.c - paced webhook sender for bench/remediation.sh.
 *
 * Sends N = RATE * SECONDS single-alert Alertmanager v4 webhooks to
 * runbookd's POST /webhook, alert i at start + i / RATE (an open-loop
 * schedule: a slow answer does not delay the next alert, it takes another
 * connection, up to MAXCONNS).  Alert i carries the labels
 *   alertname=BenchRemediation namespace=NS deployment=d-NNNNN (i+1,
 *   five digits) severity=critical run=RUN
 * (RUN a number 0..255; it and i make the 16-hex-digit fingerprint)
 * so each alert targets its own Deployment.
 *
 * For each alert it records the CLOCK_MONOTONIC time just before the first
 * byte of the request is written, and the time and status of the answer,
 * and writes "DEPLOYMENT SEND_NS ANSWER_NS STATUS" lines to OUT.  A summary
 * line goes to stdout: "sent=N ok=N non2xx=N errors=N seconds=F rate=F
 * late_ms_max=F conns=N" (late = how far behind its schedule an alert was
 * sent).
 *
 *   remediation-send PORT RATE SECONDS NS RUN OUT [MAXCONNS]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  long alert; /* in flight, or -1 when idle */
  size_t len;
  char buf[4096];
};

struct sent {
  int64_t send_ns, answer_ns;
  int status;
};

static int64_t
mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int port;

static struct conn *
open_conn(int ep)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    perror("remediation-send: connect");
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct conn *c = calloc(1, sizeof(*c));
  c->fd = fd;
  c->alert = -1;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return c;
}

static int
body_for(char *out, size_t n, long i, const char *ns, const char *run)
{
  char dep[32];
  snprintf(dep, sizeof(dep), "d-%05ld", i + 1);
  int bl = snprintf(out, n,
    "{\"receiver\":\"runbookd\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
    "\"labels\":{\"alertname\":\"BenchRemediation\",\"deployment\":\"%s\",\"namespace\":\"%s\","
    "\"run\":\"%s\",\"severity\":\"critical\"},"
    "\"annotations\":{\"summary\":\"runbookd remediation benchmark alert\"},"
    "\"startsAt\":\"2026-12-01T00:00:00Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
    "\"generatorURL\":\"http://bench/graph\",\"fingerprint\":\"%02x%014lx\"}],"
    "\"groupLabels\":{\"deployment\":\"%s\"},"
    "\"commonLabels\":{\"alertname\":\"BenchRemediation\",\"deployment\":\"%s\","
    "\"namespace\":\"%s\",\"run\":\"%s\",\"severity\":\"critical\"},"
    "\"commonAnnotations\":{},\"externalURL\":\"http://bench:9093\",\"version\":\"4\","
    "\"groupKey\":\"{}:{deployment=\\\"%s\\\"}\",\"truncatedAlerts\":0}",
    dep, ns, run, (unsigned)(atoi(run) & 0xff), (unsigned long)i, dep, dep, ns, run, dep);
  return bl;
}

int
main(int argc, char **argv)
{
  if (argc < 7) {
    fprintf(stderr, "usage: remediation-send PORT RATE SECONDS NS RUN OUT [MAXCONNS]\n");
    return 2;
  }
  port = atoi(argv[1]);
  double rate = atof(argv[2]), secs = atof(argv[3]);
  const char *ns = argv[4], *run = argv[5], *outpath = argv[6];
  int maxconns = argc > 7 ? atoi(argv[7]) : 256;
  long total = (long)(rate * secs + 0.5);
  int64_t period = (int64_t)(1e9 / rate);
  struct sent *s = calloc((size_t)total, sizeof(*s));
  struct conn **idle = calloc((size_t)maxconns, sizeof(*idle));
  int nidle = 0, nconns = 0;
  long next = 0, answered = 0, ok = 0, non2xx = 0, errors = 0;
  int64_t late_max = 0;

  int ep = epoll_create1(0);
  /* a few connections up front; more open when all are busy */
  for (int i = 0; i < 8 && i < maxconns; i++) {
    struct conn *c = open_conn(ep);
    if (!c)
      return 1;
    idle[nidle++] = c;
    nconns++;
  }
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  int64_t start = mono_ns() + 50000000; /* 50 ms from now */
  int64_t deadline = start + (int64_t)(secs * 1e9) + 10000000000ll;
  char req[4096], body[2048];

  while (answered < total && mono_ns() < deadline) {
    /* send everything that is due */
    int64_t now = mono_ns();
    while (next < total && start + next * period <= now) {
      struct conn *c = nidle > 0 ? idle[--nidle] : NULL;
      if (!c && nconns < maxconns) {
        c = open_conn(ep);
        if (c)
          nconns++;
      }
      if (!c)
        break; /* all connections busy: wait for an answer */
      int bl = body_for(body, sizeof(body), next, ns, run);
      int rl = snprintf(req, sizeof(req),
                        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        "User-Agent: Alertmanager/0.25.0\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        port, bl, body);
      c->alert = next;
      s[next].send_ns = mono_ns();
      if (s[next].send_ns - (start + next * period) > late_max)
        late_max = s[next].send_ns - (start + next * period);
      if (write(c->fd, req, (size_t)rl) != rl) {
        s[next].status = -1;
        errors++;
        answered++;
        c->alert = -1;
      }
      next++;
      now = mono_ns();
    }
    /* arm the timer for the next due alert */
    if (next < total) {
      int64_t due = start + next * period;
      struct itimerspec its = { { 0, 0 }, { due / 1000000000, due % 1000000000 } };
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, 100);
    int64_t t = mono_ns();
    for (int i = 0; i < n; i++) {
      if (!evs[i].data.ptr) {
        uint64_t x;
        if (read(tfd, &x, sizeof(x)) < 0) { /* nothing: spurious wake-up */
        }
        continue;
      }
      struct conn *c = evs[i].data.ptr;
      ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
      if (r <= 0) {
        if (c->alert >= 0) {
          s[c->alert].status = -1;
          errors++;
          answered++;
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c);
        nconns--;
        continue;
      }
      c->len += (size_t)r;
      c->buf[c->len] = '\0';
      char *hend = strstr(c->buf, "\r\n\r\n");
      if (!hend)
        continue;
      char *cl = strcasestr(c->buf, "\r\nContent-Length:");
      size_t blen = cl && cl < hend ? strtoul(cl + 17, NULL, 10) : 0;
      size_t need = (size_t)(hend + 4 - c->buf) + blen;
      if (c->len < need)
        continue;
      int status = atoi(c->buf + 9);
      if (c->alert >= 0) {
        s[c->alert].status = status;
        s[c->alert].answer_ns = t;
        if (status >= 200 && status < 300)
          ok++;
        else
          non2xx++;
        answered++;
      }
      memmove(c->buf, c->buf + need, c->len - need);
      c->len -= need;
      c->alert = -1;
      idle[nidle++] = c;
    }
  }
  int64_t last = 0;
  for (long i = 0; i < next; i++)
    if (s[i].send_ns > last)
      last = s[i].send_ns;
  double span = (double)(last - s[0].send_ns) / 1e9;
  FILE *f = fopen(outpath, "w");
  if (!f) {
    perror(outpath);
    return 1;
  }
  for (long i = 0; i < next; i++)
    fprintf(f, "d-%05ld %lld %lld %d\n", i + 1, (long long)s[i].send_ns,
            (long long)s[i].answer_ns, s[i].status);
  fclose(f);
  printf("sent=%ld ok=%ld non2xx=%ld errors=%ld unanswered=%ld seconds=%.3f rate=%.1f "
         "late_ms_max=%.3f conns=%d\n",
         next, ok, non2xx, errors, next - answered, span,
         span > 0 ? (double)(next - 1) / span : 0.0, (double)late_max / 1e6, nconns);
  return 0;
}
