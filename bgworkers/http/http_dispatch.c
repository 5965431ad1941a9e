/*-------------------------------------------------------------------------
 *
 * http_dispatch.c
 *	  The HTTP API's queries run in query workers, so that pushes never wait
 *	  behind a query.
 *
 * An HTTP worker that has a whole query request (method and Connect
 * headers checked) copies it into a dynamic shared memory segment -- route,
 * codec flags, deadline, every header and query argument, the body --
 * beside a message queue for the answer, takes a slot of the shared queue,
 * wakes the query workers, suspends the connection and goes on serving the
 * others.  A query worker takes the oldest queued slot and runs the request
 * through the same http_process() an HTTP worker would have used (its own
 * transaction, credentials and tenant, pyroscope.query_memory_limit, a
 * statement timeout at the request's deadline); status, headers and body go
 * back through the queue, and the HTTP worker resumes the connection and
 * answers.
 *
 * Everything is bounded.  At most pyroscope.http_query_queue queries are
 * queued or running; past that a query is answered at once with 429
 * resource_exhausted and Retry-After.  The deadline (pyroscope.
 * http_request_timeout) counts from the arrival of the request, waiting
 * included: the query worker cancels the query there (504
 * deadline_exceeded), and the HTTP worker answers 504 itself should no
 * answer come a second later.  A client that closes its connection cancels
 * its query: the HTTP worker peeks at the suspended socket, marks the slot
 * cancelled and sends SIGINT to the query worker.  A SIGINT can arrive
 * late, after the query it was meant for; a query worker that sees its
 * query cancelled though nobody cancelled it runs the query again.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include <signal.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#define QUERY_MQ_SIZE		(64 * 1024) /* the answer's queue */
#define QUERY_AREA_REQ		(64 * 1024) /* a slot's room for its request */
#define QUERY_AREA_SIZE		(QUERY_AREA_REQ + QUERY_MQ_SIZE)
#define PEEK_INTERVAL_MS	100 /* how often a waiting client is checked */
#define DEADLINE_GRACE_MS	1000	/* past the deadline, the HTTP worker
									 * gives up */
#define SPURIOUS_RETRIES	3

/* The request as the HTTP worker wrote it at the start of the segment. */
typedef struct QueryRequest
{
	int			route;			/* index in the route table */
	bool		json;
	bool		accept_gzip;
	int			timeout_ms;		/* 0 = none */
	TimestampTz deadline;		/* 0 = none */
	int			nheaders;
	int			nargs;
	Size		strings_off;	/* method, url, then name/value pairs */
	Size		strings_len;
	Size		body_off;
	Size		body_len;
	Size		mq_off;
} QueryRequest;

/* What an HTTP worker keeps of a request it dispatched. */
typedef struct HttpDispatch
{
	HttpRequest *req;
	int			slot;
	uint64		gen;
	dsm_segment *seg;
	shm_mq_handle *mqh;
	bool		ready;			/* the answer is in req */
	bool		abandoned;		/* the client went away */
	TimestampTz deadline;		/* 0 = none */
	TimestampTz next_peek;
	dlist_node	node;
} HttpDispatch;

static HttpQueryQueue *queue = NULL;

/*
 * Each slot of the queue has an area of main shared memory, mapped once by
 * every process: its request and the queue of its answer.  A request that
 * does not fit goes to a segment of its own.  Mapping and unmapping a
 * segment per request cost more than the query itself for small queries
 * (page tables, TLB shootdowns).
 */
static char *query_areas = NULL;

Size
http_dispatch_shmem_size(void)
{
	return mul_size(Min(pyroscope_http_query_queue, HTTP_MAX_QUERY_SLOTS), QUERY_AREA_SIZE);
}

void
http_dispatch_areas_attach(void)
{
	bool		found;
	Size		size = http_dispatch_shmem_size();

	if (size > 0)
		query_areas = ShmemInitStruct("pyroscope http query areas", size, &found);
}

static char *
slot_area(int slot)
{
	return query_areas + (Size) slot * QUERY_AREA_SIZE;
}

/* requests of this HTTP worker in a query worker's hands */
static dlist_head inflight = DLIST_STATIC_INIT(inflight);

/* in a query worker: its index among them, and the query it runs */
static int	executor_index = -1;
static int	executor_slot = -1;
static shm_mq_handle *executor_mqh = NULL;	/* the answer queue, in an area */

void
http_dispatch_shmem_init(HttpQueryQueue *q)
{
	SpinLockInit(&q->mutex);
	q->next_gen = 1;
	q->next_seq = 1;
	for (int i = 0; i < HTTP_MAX_WORKERS; i++)
	{
		q->executor_latch[i] = NULL;
		q->executor_busy[i] = false;
	}
	for (int i = 0; i < HTTP_MAX_QUERY_SLOTS; i++)
	{
		q->slots[i].state = QS_FREE;
		q->slots[i].gen = 0;
	}
	pg_atomic_init_u64(&q->dispatched, 0);
	pg_atomic_init_u64(&q->rejected, 0);
	pg_atomic_init_u64(&q->cancelled, 0);
	pg_atomic_init_u64(&q->timed_out, 0);
	pg_atomic_init_u64(&q->queue_wait_us, 0);
}

static HttpQueryQueue *
get_queue(void)
{
	if (queue == NULL && pyroscope_http_shared != NULL)
		queue = &pyroscope_http_shared->queue;
	return queue;
}

/* Whether this request goes to a query worker. */
bool
http_dispatch_wanted(HttpRequest *req)
{
	return req->route->query && req->conn != NULL &&
		pyroscope_http_query_workers > 0 && get_queue() != NULL;
}

bool
http_dispatch_ready(HttpRequest *req)
{
	return req->dispatch == NULL || req->dispatch->ready;
}

bool
http_dispatch_abandoned(HttpRequest *req)
{
	return req->dispatch != NULL && req->dispatch->abandoned;
}

/* ---------------------------------------------------------------------
 * The HTTP worker's side
 * ---------------------------------------------------------------------
 */

typedef struct KvCollect
{
	StringInfo	buf;
	int			n;
} KvCollect;

/* append "name\0" and "1value\0" (or "0\0" for a NULL value) */
static enum MHD_Result
collect_kv(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	KvCollect  *c = cls;

	appendBinaryStringInfo(c->buf, key, strlen(key) + 1);
	if (value == NULL)
		appendBinaryStringInfo(c->buf, "0", 2);
	else
	{
		appendStringInfoChar(c->buf, '1');
		appendBinaryStringInfo(c->buf, value, strlen(value) + 1);
	}
	c->n++;
	return MHD_YES;
}

/* Take a free slot (to be filled); -1 when pyroscope.http_query_queue are taken. */
static int
take_slot(uint64 *gen)
{
	HttpQueryQueue *q = get_queue();
	int			used = 0;
	int			free_slot = -1;
	int			limit = Min(pyroscope_http_query_queue, HTTP_MAX_QUERY_SLOTS);

	SpinLockAcquire(&q->mutex);
	for (int i = 0; i < limit; i++)
	{
		if (q->slots[i].state != QS_FREE)
			used++;
		else if (free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0 && used < limit)
	{
		HttpQuerySlot *s = &q->slots[free_slot];

		s->state = QS_FILLING;
		s->gen = *gen = q->next_gen++;
		s->in_dsm = false;
		s->handle = 0;
		s->cancel = false;
		s->receiver_done = false;
		s->sender_done = false;
		s->executor_pid = 0;
	}
	else
		free_slot = -1;
	SpinLockRelease(&q->mutex);
	return free_slot;
}

/* A filled slot joins the queue. */
static void
queue_slot(int slot, bool in_dsm, dsm_handle handle)
{
	HttpQueryQueue *q = get_queue();
	HttpQuerySlot *s = &q->slots[slot];

	SpinLockAcquire(&q->mutex);
	s->in_dsm = in_dsm;
	s->handle = handle;
	s->seq = q->next_seq++;
	s->queued_at = GetCurrentTimestamp();
	s->state = QS_QUEUED;
	SpinLockRelease(&q->mutex);
}

/*
 * Wake one idle query worker for a newly queued query (a busy one looks at
 * the queue again when its query is done).
 */
static void
wake_executors(void)
{
	HttpQueryQueue *q = get_queue();
	struct Latch *latch = NULL;

	SpinLockAcquire(&q->mutex);
	for (int i = 0; i < HTTP_MAX_WORKERS && latch == NULL; i++)
		if (q->executor_latch[i] && !q->executor_busy[i])
		{
			latch = q->executor_latch[i];
			q->executor_busy[i] = true; /* taken for this query */
		}
	SpinLockRelease(&q->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * The HTTP worker lets go of a slot (it has detached from its area):
 * a queued query leaves the queue; a running one is freed by whichever
 * side lets go last, and with cancel its query worker is interrupted.
 */
static void
release_slot(int slot, uint64 gen, bool cancel)
{
	HttpQueryQueue *q = get_queue();
	HttpQuerySlot *s = &q->slots[slot];
	int			pid = 0;

	SpinLockAcquire(&q->mutex);
	if (s->gen == gen)
	{
		if (s->state == QS_QUEUED || s->state == QS_FILLING)
			s->state = QS_FREE;
		else if (s->state == QS_RUNNING)
		{
			s->receiver_done = true;
			if (s->sender_done)
			{
				s->state = QS_FREE;
				s->executor_pid = 0;
			}
			else if (cancel)
			{
				s->cancel = true;
				pid = s->executor_pid;
			}
		}
	}
	SpinLockRelease(&q->mutex);
	if (pid > 0)
		kill(pid, SIGINT);
}

/* Let go of the area (or segment) and the slot of a dispatched request. */
static void
dispatch_detach(HttpDispatch *d, bool cancel)
{
	if (d->seg)
		dsm_detach(d->seg);		/* also detaches the message queue */
	else if (d->mqh)
		shm_mq_detach(d->mqh);
	d->seg = NULL;
	d->mqh = NULL;
	release_slot(d->slot, d->gen, cancel);
	dlist_delete(&d->node);
}

/* On exit: let go of every request still in a query worker's hands. */
static void
dispatch_exit(int code, Datum arg)
{
	dlist_mutable_iter it;

	if (get_queue() == NULL)
		return;
	dlist_foreach_modify(it, &inflight)
		dispatch_detach(dlist_container(HttpDispatch, node, it.cur), true);
}

/*
 * Hand req to a query worker.  False with the error response set when it
 * cannot be queued (then the caller answers at once).
 */
bool
http_dispatch(HttpRequest *req)
{
	static bool exit_registered = false;
	MemoryContext old;
	StringInfoData strings;
	KvCollect	hc,
				ac;
	Size		strings_off,
				body_off,
				mq_off;
	dsm_segment *seg = NULL;
	QueryRequest *qr;
	char	   *base;
	shm_mq	   *mq;
	HttpDispatch *d;
	int			slot;
	uint64		gen = 0;
	bool		in_dsm;

	slot = take_slot(&gen);
	if (slot < 0)
	{
		pg_atomic_fetch_add_u64(&get_queue()->rejected, 1);
		http_error(req, 429, "resource_exhausted",
				   "too many queries are queued or running (pyroscope.http_query_queue = %d); retry later",
				   pyroscope_http_query_queue);
		http_add_header(req, "Retry-After", "1");
		return false;
	}
	if (!exit_registered)
	{
		before_shmem_exit(dispatch_exit, (Datum) 0);
		exit_registered = true;
	}

	old = MemoryContextSwitchTo(req->cxt);
	initStringInfo(&strings);
	appendBinaryStringInfo(&strings, req->method, strlen(req->method) + 1);
	appendBinaryStringInfo(&strings, req->url, strlen(req->url) + 1);
	hc.buf = ac.buf = &strings;
	hc.n = ac.n = 0;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_kv, &hc);
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_kv, &ac);

	strings_off = MAXALIGN(sizeof(QueryRequest));
	body_off = MAXALIGN(strings_off + strings.len);
	mq_off = MAXALIGN(body_off + req->body_len);
	in_dsm = mq_off > QUERY_AREA_REQ;
	if (!in_dsm)
	{
		base = slot_area(slot);
		mq_off = QUERY_AREA_REQ;
	}
	else
	{
		seg = dsm_create(mq_off + QUERY_MQ_SIZE, DSM_CREATE_NULL_IF_MAXSEGMENTS);
		if (seg == NULL)
		{
			MemoryContextSwitchTo(old);
			release_slot(slot, gen, false);
			pg_atomic_fetch_add_u64(&get_queue()->rejected, 1);
			http_error(req, 503, "unavailable", "no shared memory segment is free for the query; retry later");
			http_add_header(req, "Retry-After", "1");
			return false;
		}
		base = dsm_segment_address(seg);
	}
	qr = (QueryRequest *) base;
	qr->route = http_route_index(req->route);
	qr->json = req->json;
	qr->accept_gzip = req->accept_gzip;
	qr->timeout_ms = req->timeout_ms;
	qr->deadline = req->timeout_ms > 0 ?
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), req->timeout_ms) : 0;
	qr->nheaders = hc.n;
	qr->nargs = ac.n;
	qr->strings_off = strings_off;
	qr->strings_len = strings.len;
	qr->body_off = body_off;
	qr->body_len = req->body_len;
	qr->mq_off = mq_off;
	memcpy(base + strings_off, strings.data, strings.len);
	if (req->body_len)
		memcpy(base + body_off, req->body, req->body_len);
	mq = shm_mq_create(base + mq_off, QUERY_MQ_SIZE);
	shm_mq_set_receiver(mq, MyProc);

	d = palloc0(sizeof(HttpDispatch));
	d->req = req;
	d->seg = seg;
	d->mqh = shm_mq_attach(mq, seg, NULL);
	d->deadline = qr->deadline;
	d->next_peek = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), PEEK_INTERVAL_MS);
	d->slot = slot;
	d->gen = gen;
	pfree(strings.data);
	MemoryContextSwitchTo(old);

	req->dispatch = d;
	dlist_push_tail(&inflight, &d->node);
	queue_slot(slot, in_dsm, seg ? dsm_segment_handle(seg) : 0);
	pg_atomic_fetch_add_u64(&get_queue()->dispatched, 1);
	wake_executors();
	return true;
}

/* Read the answer message into req. */
static void
take_answer(HttpDispatch *d, const char *data, Size len)
{
	HttpRequest *req = d->req;
	const char *p = data;
	const char *end = data + len;
	int32		status;
	int32		nhdr;
	uint64		body_len;
	const char *ct;
	const char *code;

	if (len < 2 * sizeof(int32) + sizeof(uint64))
		goto bad;
	memcpy(&status, p, sizeof(int32));
	p += sizeof(int32);
	memcpy(&nhdr, p, sizeof(int32));
	p += sizeof(int32);
	memcpy(&body_len, p, sizeof(uint64));
	p += sizeof(uint64);
	if (nhdr < 0 || nhdr > HTTP_MAX_EXTRA_HEADERS || body_len > (uint64) (end - p))
		goto bad;
	/* the body, then NUL-terminated strings: type, code, header pairs */
	http_set_body(req, status, NULL, p, body_len);
	p += body_len;
	ct = p;
	p += strnlen(p, end - p) + 1;
	code = p;
	p += (p < end) ? strnlen(p, end - p) + 1 : 0;
	if (p > end)
		goto bad;
	req->content_type = ct[0] ? MemoryContextStrdup(req->cxt, ct) : NULL;
	req->error_code = code[0] ? MemoryContextStrdup(req->cxt, code) : NULL;
	req->nhdr = 0;
	for (int i = 0; i < nhdr; i++)
	{
		const char *n = p;
		const char *v;

		p += strnlen(p, end - p) + 1;
		v = p;
		if (p >= end)
			goto bad;
		p += strnlen(p, end - p) + 1;
		if (p > end)
			goto bad;
		http_add_header(req, MemoryContextStrdup(req->cxt, n), MemoryContextStrdup(req->cxt, v));
	}
	req->gzipped = true;		/* the query worker did what was wanted */
	return;

bad:
	req->nhdr = 0;
	http_error(req, 500, "internal", "malformed answer from a query worker");
}

/*
 * The request is answered (or abandoned, then with cancel): let MHD have
 * its connection, suspended since the request was dispatched.
 */
static void
dispatch_finish(HttpDispatch *d, bool cancel)
{
	d->ready = true;
	dispatch_detach(d, cancel);
	MHD_resume_connection(d->req->conn);
}

/* Whether the client of a suspended connection has closed it. */
static bool
client_gone(HttpRequest *req)
{
	const union MHD_ConnectionInfo *ci;
	char		c;
	ssize_t		n;

	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return false;
	n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return true;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return true;
	return false;
}

/*
 * Look at every dispatched request of this HTTP worker: take the answers
 * that came, give up on clients that went away and on queries past their
 * deadline.  Called after every wakeup of the worker; returns how long the
 * worker may sleep before calling again (-1: nothing is in flight), and
 * sets *resumed when a connection was resumed (MHD_run must then run).
 */
long
http_dispatch_poll(bool *resumed)
{
	dlist_mutable_iter it;
	TimestampTz now = GetCurrentTimestamp();
	long		wait = -1;

	dlist_foreach_modify(it, &inflight)
	{
		HttpDispatch *d = dlist_container(HttpDispatch, node, it.cur);
		HttpRequest *req = d->req;
		shm_mq_result r;
		Size		nbytes;
		void	   *data;
		MemoryContext old = MemoryContextSwitchTo(req->cxt);

		r = shm_mq_receive(d->mqh, &nbytes, &data, true);
		MemoryContextSwitchTo(old);
		if (r == SHM_MQ_SUCCESS)
		{
			take_answer(d, data, nbytes);
			dispatch_finish(d, false);
			*resumed = true;
			continue;
		}
		if (r == SHM_MQ_DETACHED)
		{
			http_error(req, 503, "unavailable", "the query worker running this query exited; retry");
			http_add_header(req, "Retry-After", "1");
			dispatch_finish(d, false);
			*resumed = true;
			continue;
		}
		if (d->deadline != 0 &&
			now >= TimestampTzPlusMilliseconds(d->deadline, DEADLINE_GRACE_MS))
		{
			pg_atomic_fetch_add_u64(&get_queue()->timed_out, 1);
			http_error(req, 504, "deadline_exceeded",
					   "the query did not finish within pyroscope.http_request_timeout (%d ms)",
					   req->timeout_ms);
			dispatch_finish(d, true);
			*resumed = true;
			continue;
		}
		if (now >= d->next_peek)
		{
			d->next_peek = TimestampTzPlusMilliseconds(now, PEEK_INTERVAL_MS);
			if (client_gone(req))
			{
				pg_atomic_fetch_add_u64(&get_queue()->cancelled, 1);
				d->abandoned = true;
				dispatch_finish(d, true);
				*resumed = true;
				continue;
			}
		}
		wait = PEEK_INTERVAL_MS;
	}
	return wait;
}

/* MHD is done with req (answered, or the connection closed). */
void
http_dispatch_release(HttpRequest *req)
{
	HttpDispatch *d = req->dispatch;

	if (d == NULL || d->ready)
		return;
	d->ready = true;
	dispatch_detach(d, true);
}

/* The queue's gauges and counters for /metrics. */
void
http_dispatch_metrics(StringInfo b)
{
	HttpQueryQueue *q = get_queue();
	int			queued = 0;
	int			running = 0;
	int			executors = 0;

	if (q == NULL)
		return;
	SpinLockAcquire(&q->mutex);
	for (int i = 0; i < HTTP_MAX_QUERY_SLOTS; i++)
	{
		if (q->slots[i].state == QS_QUEUED)
			queued++;
		else if (q->slots[i].state == QS_RUNNING)
			running++;
	}
	for (int i = 0; i < HTTP_MAX_WORKERS; i++)
		if (q->executor_latch[i])
			executors++;
	SpinLockRelease(&q->mutex);
	appendStringInfo(b,
					 "# HELP pyroscope_http_query_workers Running query worker processes.\n"
					 "# TYPE pyroscope_http_query_workers gauge\n"
					 "pyroscope_http_query_workers %d\n"
					 "# HELP pyroscope_http_queries_queued HTTP queries waiting for a query worker.\n"
					 "# TYPE pyroscope_http_queries_queued gauge\n"
					 "pyroscope_http_queries_queued %d\n"
					 "# HELP pyroscope_http_queries_running HTTP queries being run by a query worker.\n"
					 "# TYPE pyroscope_http_queries_running gauge\n"
					 "pyroscope_http_queries_running %d\n"
					 "# HELP pyroscope_http_queries_dispatched_total HTTP queries handed to the query workers.\n"
					 "# TYPE pyroscope_http_queries_dispatched_total counter\n"
					 "pyroscope_http_queries_dispatched_total " UINT64_FORMAT "\n"
					 "# HELP pyroscope_http_queries_rejected_total HTTP queries refused because the queue was full (429).\n"
					 "# TYPE pyroscope_http_queries_rejected_total counter\n"
					 "pyroscope_http_queries_rejected_total " UINT64_FORMAT "\n"
					 "# HELP pyroscope_http_queries_cancelled_total HTTP queries cancelled because the client closed its connection.\n"
					 "# TYPE pyroscope_http_queries_cancelled_total counter\n"
					 "pyroscope_http_queries_cancelled_total " UINT64_FORMAT "\n"
					 "# HELP pyroscope_http_queries_timed_out_total HTTP queries given up at their deadline by the HTTP worker (504).\n"
					 "# TYPE pyroscope_http_queries_timed_out_total counter\n"
					 "pyroscope_http_queries_timed_out_total " UINT64_FORMAT "\n"
					 "# HELP pyroscope_http_query_queue_wait_seconds_total Time HTTP queries spent waiting for a query worker.\n"
					 "# TYPE pyroscope_http_query_queue_wait_seconds_total counter\n"
					 "pyroscope_http_query_queue_wait_seconds_total %.6f\n",
					 executors, queued, running,
					 pg_atomic_read_u64(&q->dispatched),
					 pg_atomic_read_u64(&q->rejected),
					 pg_atomic_read_u64(&q->cancelled),
					 pg_atomic_read_u64(&q->timed_out),
					 pg_atomic_read_u64(&q->queue_wait_us) / 1e6);
}

/* ---------------------------------------------------------------------
 * The query worker's side
 * ---------------------------------------------------------------------
 */

/* Take the oldest queued query; -1 when there is none. */
static int
next_query(bool *in_dsm, dsm_handle *handle)
{
	HttpQueryQueue *q = get_queue();
	int			best = -1;
	TimestampTz queued_at = 0;

	SpinLockAcquire(&q->mutex);
	for (int i = 0; i < HTTP_MAX_QUERY_SLOTS; i++)
		if (q->slots[i].state == QS_QUEUED &&
			(best < 0 || q->slots[i].seq < q->slots[best].seq))
			best = i;
	q->executor_busy[executor_index] = best >= 0;
	if (best >= 0)
	{
		HttpQuerySlot *s = &q->slots[best];

		s->state = QS_RUNNING;
		s->executor_pid = MyProcPid;
		*in_dsm = s->in_dsm;
		*handle = s->handle;
		queued_at = s->queued_at;
	}
	SpinLockRelease(&q->mutex);
	if (best >= 0)
	{
		TimestampTz now = GetCurrentTimestamp();

		if (now > queued_at)
			pg_atomic_fetch_add_u64(&q->queue_wait_us, (uint64) (now - queued_at));
	}
	return best;
}

static bool
slot_cancelled(int slot)
{
	HttpQueryQueue *q = get_queue();
	bool		c;

	SpinLockAcquire(&q->mutex);
	c = q->slots[slot].cancel;
	SpinLockRelease(&q->mutex);
	return c;
}

static void
free_slot(int slot)
{
	HttpQueryQueue *q = get_queue();
	HttpQuerySlot *s = &q->slots[slot];

	/* the side that lets go last frees the slot (see release_slot) */
	SpinLockAcquire(&q->mutex);
	s->sender_done = true;
	if (s->receiver_done)
	{
		s->state = QS_FREE;
		s->executor_pid = 0;
	}
	SpinLockRelease(&q->mutex);
}

/* On exit: leave the queue, and free the slot of a query left half-run. */
static void
executor_exit(int code, Datum arg)
{
	HttpQueryQueue *q = get_queue();

	if (q == NULL || executor_index < 0)
		return;
	/* the HTTP worker waiting for the answer learns at once that none comes */
	if (executor_mqh)
		shm_mq_detach(executor_mqh);
	executor_mqh = NULL;
	SpinLockAcquire(&q->mutex);
	q->executor_latch[executor_index] = NULL;
	q->executor_busy[executor_index] = false;
	if (executor_slot >= 0 && q->slots[executor_slot].executor_pid == MyProcPid)
	{
		HttpQuerySlot *s = &q->slots[executor_slot];

		s->sender_done = true;
		if (s->receiver_done)
		{
			s->state = QS_FREE;
			s->executor_pid = 0;
		}
	}
	SpinLockRelease(&q->mutex);
}

/* Build the request of a segment, in cxt. */
static HttpRequest *
request_from_segment(char *base, MemoryContext cxt)
{
	QueryRequest *qr = (QueryRequest *) base;
	HttpRequest *req;
	MemoryContext old = MemoryContextSwitchTo(cxt);
	char	   *p;
	int			n = qr->nheaders + qr->nargs;

	req = palloc0(sizeof(HttpRequest));
	req->cxt = cxt;
	req->conn = NULL;
	p = palloc(qr->strings_len + 1);
	memcpy(p, base + qr->strings_off, qr->strings_len);
	p[qr->strings_len] = '\0';
	req->method = p;
	p += strlen(p) + 1;
	req->url = p;
	p += strlen(p) + 1;
	req->nheaders = qr->nheaders;
	req->nargs = qr->nargs;
	req->kv_name = palloc(sizeof(char *) * Max(n, 1));
	req->kv_value = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		req->kv_name[i] = p;
		p += strlen(p) + 1;
		if (p[0] == '1')
			req->kv_value[i] = p + 1;
		else
			req->kv_value[i] = NULL;
		p += strlen(p) + 1;
	}
	req->route = http_route_at(qr->route);
	req->json = qr->json;
	req->accept_gzip = qr->accept_gzip;
	req->timeout_ms = qr->timeout_ms;
	req->body = palloc(qr->body_len + 1);
	if (qr->body_len)
		memcpy(req->body, base + qr->body_off, qr->body_len);
	req->body[qr->body_len] = '\0';
	req->body_len = req->body_cap = qr->body_len;
	INSTR_TIME_SET_CURRENT(req->started);
	MemoryContextSwitchTo(old);
	return req;
}

/* The answer message of req: see take_answer. */
static void
answer_message(HttpRequest *req, StringInfo m)
{
	int32		status = req->status;
	int32		nhdr = req->nhdr;
	uint64		body_len = req->resp_len;
	const char *ct = req->content_type ? req->content_type : "";
	const char *code = req->error_code ? req->error_code : "";

	appendBinaryStringInfo(m, (char *) &status, sizeof(int32));
	appendBinaryStringInfo(m, (char *) &nhdr, sizeof(int32));
	appendBinaryStringInfo(m, (char *) &body_len, sizeof(uint64));
	if (req->resp_len)
		appendBinaryStringInfo(m, req->resp, req->resp_len);
	appendBinaryStringInfo(m, ct, strlen(ct) + 1);
	appendBinaryStringInfo(m, code, strlen(code) + 1);
	for (int i = 0; i < req->nhdr; i++)
	{
		appendBinaryStringInfo(m, req->hdr_name[i], strlen(req->hdr_name[i]) + 1);
		appendBinaryStringInfo(m, req->hdr_value[i], strlen(req->hdr_value[i]) + 1);
	}
}

/* Run the query of one slot and send its answer. */
static void
run_query(int slot, bool in_dsm, dsm_handle handle)
{
	MemoryContext cxt;
	dsm_segment *volatile seg = NULL;
	char	   *base;
	QueryRequest *qr;
	HttpRequest *req;
	shm_mq_handle *mqh;
	StringInfoData m;

	if (in_dsm)
	{
		seg = dsm_attach(handle);
		if (seg == NULL)
			return;				/* the HTTP worker gave up already */
		base = dsm_segment_address(seg);
	}
	else
		base = slot_area(slot);
	qr = (QueryRequest *) base;
	cxt = AllocSetContextCreate(TopMemoryContext, "pyroscope http query",
								ALLOCSET_DEFAULT_SIZES);
	req = request_from_segment(base, cxt);
	shm_mq_set_sender((shm_mq *) (base + qr->mq_off), MyProc);
	mqh = shm_mq_attach((shm_mq *) (base + qr->mq_off), seg, NULL);
	if (seg == NULL)
		executor_mqh = mqh;		/* a segment detaches it by itself */

	for (int attempt = 0;; attempt++)
	{
		TimestampTz now = GetCurrentTimestamp();

		if (qr->deadline != 0)
		{
			long		left = (long) ((qr->deadline - now) / 1000);

			if (left <= 0)
			{
				http_error(req, 504, "deadline_exceeded",
						   "the query waited past pyroscope.http_request_timeout (%d ms) for a query worker",
						   qr->timeout_ms);
				break;
			}
			req->timeout_ms = (int) Min(left, (long) INT_MAX);
		}
		QueryCancelPending = false;
		req->status = 0;
		req->nhdr = 0;
		req->error_code = NULL;
		req->resp = NULL;
		req->resp_len = 0;
		http_process(req);
		/* a late SIGINT meant for an earlier query: run this one again */
		if (req->status == 504 && !slot_cancelled(slot) && attempt < SPURIOUS_RETRIES &&
			(qr->deadline == 0 || GetCurrentTimestamp() < qr->deadline))
			continue;
		break;
	}
	QueryCancelPending = false;

	if (!slot_cancelled(slot))
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		http_maybe_gzip(req);
		initStringInfo(&m);
		answer_message(req, &m);
		MemoryContextSwitchTo(old);
		PG_TRY();
		{
			(void) shm_mq_send(mqh, m.len, m.data, false, true);
		}
		PG_CATCH();
		{
			/* interrupted while the HTTP worker drained: it gave up */
			FlushErrorState();
		}
		PG_END_TRY();
		QueryCancelPending = false;
	}
	pyroscope_http_worker_count(req->status >= 400);
	if (seg)
		dsm_detach(seg);		/* also detaches the message queue */
	else
	{
		executor_mqh = NULL;
		shm_mq_detach(mqh);
	}
	MemoryContextDelete(cxt);
}

/*
 * Main of one query worker: wait for queued queries and run them, one at a
 * time, until SIGTERM or postmaster death.
 */
void
pyroscope_http_query_worker_main(Datum arg)
{
	HttpQueryQueue *q;

	executor_index = DatumGetInt32(arg);

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGINT, StatementCancelHandler);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(pyroscope_database, NULL, 0);
	pgstat_report_appname("pyroscope http query worker");
	pyroscope_http_worker_attach(pyroscope_http_workers + executor_index, true);

	q = get_queue();
	if (q == NULL)
		proc_exit(1);
	before_shmem_exit(executor_exit, (Datum) 0);
	SpinLockAcquire(&q->mutex);
	q->executor_latch[executor_index] = MyLatch;
	SpinLockRelease(&q->mutex);

	ereport(LOG,
			(errmsg("pyroscope http query worker %d started", executor_index)));

	for (;;)
	{
		dsm_handle	handle;
		bool		in_dsm;
		int			slot;

		/* a SIGINT between queries is for a query that has ended */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		slot = next_query(&in_dsm, &handle);
		if (slot < 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}
		executor_slot = slot;
		run_query(slot, in_dsm, handle);
		free_slot(slot);
		executor_slot = -1;
		pyroscope_release_memory(false);
	}
}
