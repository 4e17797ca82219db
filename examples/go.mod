module github.com/crew-go/crew/examples

go 1.26.0

replace github.com/crew-go/crew => ../

require (
	github.com/crew-go/crew v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/time v0.16.0 // indirect
)
