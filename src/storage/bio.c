/*
 * bio.c - background I/O threads (see bio.h).
 */
#include "bio.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BIO_MAX_THREADS 8

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t cv_idle = PTHREAD_COND_INITIALIZER;
static bk_bio_job *q_head, *q_tail;   /* pending */
static bk_bio_job *c_head, *c_tail;   /* completed, done() not yet run */
static int inflight;                  /* submitted and not yet drained */
static int nthreads_running;
static bool stopping;
static pthread_t threads[BIO_MAX_THREADS];
static int efd = -1;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!q_head && !stopping)
            pthread_cond_wait(&cv_work, &mu);
        if (!q_head && stopping)
            break;
        bk_bio_job *j = q_head;
        q_head = j->next;
        if (!q_head)
            q_tail = NULL;
        pthread_mutex_unlock(&mu);
        j->run(j);
        pthread_mutex_lock(&mu);
        j->next = NULL;
        if (c_tail)
            c_tail->next = j;
        else
            c_head = j;
        c_tail = j;
        uint64_t one = 1;
        if (write(efd, &one, sizeof one) < 0) {
            /* eventfd counter overflow is impossible in practice */
        }
        pthread_cond_broadcast(&cv_idle);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int bk_bio_start(int n)
{
    if (n < 1)
        n = 1;
    if (n > BIO_MAX_THREADS)
        n = BIO_MAX_THREADS;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd == -1)
        return BK_EIO;
    stopping = false;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&threads[i], NULL, worker, NULL) != 0)
            return BK_ENOMEM;
        nthreads_running++;
    }
    return 0;
}

void bk_bio_submit(bk_bio_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&mu);
    if (nthreads_running == 0) {
        /* not started (tools, tests): run inline */
        pthread_mutex_unlock(&mu);
        job->run(job);
        if (job->done)
            job->done(job);
        return;
    }
    inflight++;
    if (q_tail)
        q_tail->next = job;
    else
        q_head = job;
    q_tail = job;
    pthread_cond_signal(&cv_work);
    pthread_mutex_unlock(&mu);
}

int bk_bio_fd(void)
{
    return efd;
}

int bk_bio_drain(void)
{
    uint64_t v;
    if (efd >= 0 && read(efd, &v, sizeof v) < 0 && errno != EAGAIN) {
        /* nothing to do: completions are read from the list below */
    }
    pthread_mutex_lock(&mu);
    bk_bio_job *list = c_head;
    c_head = c_tail = NULL;
    pthread_mutex_unlock(&mu);
    int n = 0;
    while (list) {
        bk_bio_job *next = list->next;
        if (list->done)
            list->done(list);
        list = next;
        n++;
    }
    pthread_mutex_lock(&mu);
    inflight -= n;
    pthread_mutex_unlock(&mu);
    return n;
}

void bk_bio_wait_idle(void)
{
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!c_head && inflight > 0)
            pthread_cond_wait(&cv_idle, &mu);
        bool idle = inflight == 0;
        pthread_mutex_unlock(&mu);
        if (idle)
            return;
        bk_bio_drain();
    }
}

void bk_bio_stop(void)
{
    if (nthreads_running == 0)
        return;
    bk_bio_wait_idle();
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_broadcast(&cv_work);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nthreads_running; i++)
        pthread_join(threads[i], NULL);
    nthreads_running = 0;
    if (efd >= 0)
        close(efd);
    efd = -1;
}
