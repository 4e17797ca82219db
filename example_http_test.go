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
