/*
 * flush_overlap.c - do concurrent flushes of one file overlap on this disk?
 *
 * THREADS threads each pwrite() 8 KB at an aligned offset of one
 * preallocated 64 MB file and fdatasync() it, in a loop, for SECONDS.
 * Prints the flushes per second and their mean latency.  If two threads
 * give about twice the flushes of one at the same latency, two syncs
 * overlap (docs/benchmarks.md, round 5).
 *
 *   cc -O2 -o /tmp/flush_overlap bench/flush_overlap.c -lpthread
 *   for t in 1 2 4; do /tmp/flush_overlap /tmp/flush.dat $t; done
 *
 * The file must be on the disk under test (not tmpfs); it is left behind.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 8192
#define BLOCKS 8192 /* 64 MB */
#define SECONDS 3
#define MAX_THREADS 16

static int fd;
static atomic_long next_block, flushes;
static atomic_llong flush_ns;

static long long
now_ns(void)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *
run(void *arg)
{
  char buf[BLOCK];
  long long end = now_ns() + SECONDS * 1000000000LL;

  (void)arg;
  memset(buf, 'x', sizeof(buf));
  while (now_ns() < end) {
    off_t off = (off_t)(atomic_fetch_add(&next_block, 1) % BLOCKS) * BLOCK;
    long long t0 = now_ns();

    if (pwrite(fd, buf, BLOCK, off) != BLOCK || fdatasync(fd) != 0) {
      perror("flush_overlap: write");
      exit(1);
    }
    flush_ns += now_ns() - t0;
    flushes++;
  }
  return NULL;
}

int
main(int argc, char **argv)
{
  static char zero[BLOCK];
  pthread_t t[MAX_THREADS];
  int n = argc > 2 ? atoi(argv[2]) : 1;

  if (argc < 2 || n < 1 || n > MAX_THREADS) {
    fprintf(stderr, "usage: flush_overlap FILE [THREADS 1-%d]\n", MAX_THREADS);
    return 2;
  }
  fd = open(argv[1], O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  /* Preallocated and written once, so a flush never changes metadata. */
  for (int i = 0; i < BLOCKS; i++)
    if (pwrite(fd, zero, BLOCK, (off_t)i * BLOCK) != BLOCK) {
      perror(argv[1]);
      return 1;
    }
  if (fsync(fd) != 0) {
    perror(argv[1]);
    return 1;
  }
  for (int i = 0; i < n; i++)
    pthread_create(&t[i], NULL, run, NULL);
  for (int i = 0; i < n; i++)
    pthread_join(t[i], NULL);
  printf("threads=%d flushes/s=%.0f mean_us=%.1f\n", n, (double)flushes / SECONDS,
         flushes ? (double)flush_ns / 1e3 / (double)flushes : 0.0);
  return 0;
}
