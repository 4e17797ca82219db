package crewredis

import "time"

type breakerConfig struct {
	requestTimeout time.Duration
}
