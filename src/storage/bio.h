/*
 * bio.h - background I/O threads (after Redis's bio.c).
 *
 * The event loop never blocks on the disk: fsync, index trimming and file
 * deletion are queued here as jobs. A job's run() executes on a worker
 * thread; its done() executes later on the loop thread, when the loop
 * drains completions after the eventfd (bk_bio_fd) becomes readable.
 *
 * Ownership: the job struct belongs to the submitter and must stay valid
 * until done() has run (embed it in the thing it works on).
 *
 * Ordering: jobs run in submission order per worker; with one worker (the
 * default) globally in order.
 */
#ifndef BK_BIO_H
#define BK_BIO_H

#include "../core/err.h"

typedef struct bk_bio_job bk_bio_job;
struct bk_bio_job {
    void (*run)(bk_bio_job *job);  /* worker thread */
    void (*done)(bk_bio_job *job); /* loop thread; may be NULL */
    bk_bio_job *next;              /* private */
};

int bk_bio_start(int nthreads);
/* Wait for every queued job to run, drain completions, stop the threads. */
void bk_bio_stop(void);
void bk_bio_submit(bk_bio_job *job);
/* An eventfd that is readable when completions are waiting. */
int bk_bio_fd(void);
/* Run done() of completed jobs; returns how many. Loop thread only. */
int bk_bio_drain(void);
/* Block until all submitted jobs have completed and run their done(). */
void bk_bio_wait_idle(void);

#endif
