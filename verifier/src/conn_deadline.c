/* Per-connection read deadlines (conn_deadline.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "conn_deadline.h"
#include "vutil.h"

struct v_deadline {
	int fd;
	uint64_t due_ns; /* 0: disarmed */
	struct v_deadline *prev, *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;
static struct v_deadline *head;
static uint64_t window_ns;
static bool running, stopping;
static pthread_t reaper;
static _Atomic uint64_t closed_total;

/* Checks four times per second: a connection ends at most 250 ms (plus
 * scheduling) past its deadline. */
static void *reap(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&stop_cv, &mu, &ts);
		uint64_t now = v_now_ns();
		for (struct v_deadline *t = head; t; t = t->next)
			if (t->due_ns && now > t->due_ns) {
				t->due_ns = 0;
				shutdown(t->fd, SHUT_RDWR);
				atomic_fetch_add(&closed_total, 1);
			}
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int v_deadline_start(unsigned deadline_s)
{
	window_ns = (uint64_t)deadline_s * 1000000000ull;
	stopping = false;
	if (pthread_create(&reaper, NULL, reap, NULL))
		return -1;
	running = true;
	return 0;
}

void v_deadline_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_signal(&stop_cv);
	pthread_mutex_unlock(&mu);
	pthread_join(reaper, NULL);
	running = false;
}

struct v_deadline *v_deadline_open(int fd)
{
	struct v_deadline *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->fd = fd;
	t->due_ns = v_now_ns() + window_ns;
	pthread_mutex_lock(&mu);
	t->next = head;
	if (head)
		head->prev = t;
	head = t;
	pthread_mutex_unlock(&mu);
	return t;
}

void v_deadline_disarm(struct v_deadline *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&mu);
	t->due_ns = 0;
	pthread_mutex_unlock(&mu);
}

void v_deadline_rearm(struct v_deadline *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&mu);
	t->due_ns = v_now_ns() + window_ns;
	pthread_mutex_unlock(&mu);
}

void v_deadline_close(struct v_deadline *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&mu);
	if (t->prev)
		t->prev->next = t->next;
	else
		head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&mu);
	free(t);
}

uint64_t v_deadline_closed_total(void)
{
	return atomic_load(&closed_total);
}
