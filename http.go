package crew

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Handler returns an http.Handler that runs next through p: each request is
// a job on p, so p bounds the handlers running at once, queues the rest, and
// p's guards (Chain) decide which requests run at all. p may be a pool of any
// result type (the job returns its zero value), so one pool can serve both
// requests and other work.
//
// The request's ctx is the job's ctx: a client that goes away while its
// request is queued takes it out of the queue, and its handler never runs.
// When p refuses a request, Handler answers for it: 429 Too Many Requests for
// ErrRateLimited, 503 Service Unavailable for ErrQueueFull, ErrCircuitOpen
// and ErrClosed, with a Retry-After header when the refusal says when to come
// back. A panic in next becomes a 500 (when nothing was written yet) and never
// takes the server down; a panic with http.ErrAbortHandler keeps its meaning
// and aborts the response. WithErrorHandler replaces these answers.
//
// A request whose handler answers with a 5xx status counts as a failed job
// (its error is a *StatusError), so a Breaker in p's Chain opens when the
// handler keeps failing; WithFailureStatus changes which statuses count.
//
// Handler waits for next to return before it returns, as net/http requires,
// also when the client has gone. It is safe for concurrent use.
func Handler[T any](p Pool[T], next http.Handler, opts ...HTTPOption) http.Handler {
	if isNil(p) || next == nil {
		panic("crew: Handler: the pool and the handler must not be nil")
	}
	h := &handler[T]{pool: p, next: next, httpConfig: httpConfig{onError: WriteError, isFailure: serverError}}
	for _, o := range opts {
		if o != nil {
			o.applyHTTP(&h.httpConfig)
		}
	}
	return h
}

// Middleware returns Handler as middleware: Middleware(p)(next) is
// Handler(p, next, opts...).
func Middleware[T any](p Pool[T], opts ...HTTPOption) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return Handler(p, next, opts...) }
}

// HTTPOption configures Handler and Middleware. Options are immutable
// values, safe to reuse and to share between goroutines.
type HTTPOption interface {
	applyHTTP(*httpConfig)
}

type httpOptionFunc func(*httpConfig)

func (o httpOptionFunc) applyHTTP(c *httpConfig) { o(c) }

// httpConfig is what the HTTP options set.
type httpConfig struct {
	prio      func(*http.Request) int
	onError   func(http.ResponseWriter, *http.Request, error)
	isFailure func(code int) bool
}

// WithErrorHandler sets what answers a request that did not run, or whose
// handler panicked before writing: onError gets the error (a
// *RejectedError, ErrClosed, a ctx error or a *PanicError). The default is
// WriteError.
func WithErrorHandler(onError func(w http.ResponseWriter, r *http.Request, err error)) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if onError != nil {
			c.onError = onError
		}
	})
}

// WithRequestPriority gives each request the priority prio returns (see
// WithPriority); a PriorityPool runs higher ones first. Other pools ignore it.
func WithRequestPriority(prio func(*http.Request) int) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) { c.prio = prio })
}

// WithFailureStatus sets which response statuses make the request count as
// a failed job (default: 500 and above).
func WithFailureStatus(isFailure func(code int) bool) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if isFailure != nil {
			c.isFailure = isFailure
		}
	})
}

func serverError(code int) bool { return code >= 500 }

// StatusError is the job error of a request whose handler answered with a
// failure status (see WithFailureStatus). It is not changed after it is
// returned, so it is safe to share between goroutines.
type StatusError struct {
	Code int
}

// Error names the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("crew: handler answered %d %s", e.Code, http.StatusText(e.Code))
}

// WriteError is the default answer for a request crew did not run: the
// status StatusCode gives, a Retry-After header when the error says when to
// retry, and the status text. A request whose client has gone gets nothing.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		return // the client has gone; nobody reads the answer
	}
	var rej *RejectedError
	if errors.As(err, &rej) && rej.RetryAfter > 0 {
		secs := (rej.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
	}
	code := StatusCode(err)
	http.Error(w, http.StatusText(code), code)
}

// StatusCode maps an error from a pool to an HTTP status: 429 for
// ErrRateLimited, 503 for ErrQueueFull, ErrCircuitOpen and ErrClosed, 504 for
// context.DeadlineExceeded, 500 otherwise.
func StatusCode(err error) int {
	switch {
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrCircuitOpen), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

type handler[T any] struct {
	httpConfig
	pool Pool[T]
	next http.Handler
}

func (h *handler[T]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.prio != nil {
		ctx = WithPriority(ctx, h.prio(r))
	}
	rw := &responseWriter{ResponseWriter: w}
	f, err := h.pool.Submit(ctx, func(ctx context.Context) (T, error) {
		var zero T
		h.next.ServeHTTP(rw, r.WithContext(ctx))
		if rw.code != 0 && h.isFailure(rw.code) {
			return zero, &StatusError{Code: rw.code}
		}
		return zero, nil
	})
	if err != nil {
		h.onError(w, r, err)
		return
	}
	<-f.Done() // next may still be writing to w: never return before it ends
	_, err = f.Wait(context.Background())
	var pe *PanicError
	if errors.As(err, &pe) && pe.Value == http.ErrAbortHandler {
		panic(http.ErrAbortHandler) // net/http aborts the response quietly
	}
	if err != nil && !rw.wrote {
		h.onError(w, r, err)
	}
}

// responseWriter notes whether the handler has started its response, so an
// error after that is not written on top of it. It is an http.Flusher and
// an http.Hijacker, and Unwrap keeps http.ResponseController working
// (deadlines, and whatever else the underlying writer supports).
type responseWriter struct {
	http.ResponseWriter
	wrote bool
	code  int // the status sent; 0 until then
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote, w.code = true, code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote, w.code = true, http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher, so a handler that asserts w.(http.Flusher)
// (server-sent events, streaming) keeps streaming through Handler. It sends
// the headers, 200 unless written before, and does nothing if the
// underlying writer cannot flush.
func (w *responseWriter) Flush() {
	if !w.wrote {
		w.wrote, w.code = true, http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker for handlers that take over the
// connection (a WebSocket upgrade); it returns http.ErrNotSupported if the
// underlying writer cannot.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.wrote = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
