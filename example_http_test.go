package crew_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/crew-go/crew"
)

func ExampleHandler() {
	pool := crew.NewPool[struct{}](8) // at most 8 handlers at once
	defer pool.Close(context.Background())
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	srv := httptest.NewServer(crew.Handler(pool, hello))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello
}

func ExampleMiddleware() {
	limiter := crew.NewRateLimiter(1, 1, crew.WithMaxWait(0)) // one request, then 429s
	pool := crew.Chain(crew.NewPool[struct{}](4), limiter)
	defer pool.Close(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(crew.Middleware(pool)(mux))
	defer srv.Close()

	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("%d Retry-After=%q\n", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After=""
	// 429 Retry-After="1"
}
