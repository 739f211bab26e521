/*
 * conn_deadline.h - a total deadline for reading each request's header and
 * body (slowloris). libmicrohttpd's connection timeout is an idle timeout
 * that restarts with every byte, so a client dripping a byte faster than it
 * keeps a connection forever. Here every connection is tracked from its
 * start (MHD_OPTION_NOTIFY_CONNECTION, STARTED): the request must be read
 * completely within request_deadline_s; after each answered request the
 * next one gets a fresh deadline. A reaper thread shuts down the socket of
 * a connection past its deadline; libmicrohttpd then sees the end of the
 * stream and closes the connection in its own thread.
 *
 * Safety of the shutdown: the reaper and the CLOSED notification take the
 * same lock, and libmicrohttpd sends CLOSED before it closes the socket, so
 * a descriptor is never shut down after it could have been reused.
 */
#ifndef AHV_V_CONN_DEADLINE_H
#define AHV_V_CONN_DEADLINE_H

#include <stdint.h>

struct v_deadline;

/* Start the reaper (deadline_s >= 1). 0 on success. */
int v_deadline_start(unsigned deadline_s);
void v_deadline_stop(void);
/* A new connection on fd, armed from now. NULL if out of memory (the
 * connection is then not tracked). */
struct v_deadline *v_deadline_open(int fd);
/* The request's header and body are in: no deadline while it is answered. */
void v_deadline_disarm(struct v_deadline *t);
/* The request is answered: the next one on this connection starts now. */
void v_deadline_rearm(struct v_deadline *t);
/* The connection is closing (before its socket is closed). */
void v_deadline_close(struct v_deadline *t);
/* Connections shut down at their deadline so far. */
uint64_t v_deadline_closed_total(void);

#endif
