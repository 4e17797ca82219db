module github.com/crew-go/crew/benchmarks

go 1.26.0

require github.com/crew-go/crew v0.0.0-00010101000000-000000000000

require (
	github.com/alitto/pond/v2 v2.7.1 // indirect
	github.com/gammazero/deque v1.2.2 // indirect
	github.com/gammazero/workerpool v1.3.0 // indirect
	github.com/panjf2000/ants/v2 v2.12.1 // indirect
	github.com/sourcegraph/conc v0.3.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
)

replace github.com/crew-go/crew => ../
