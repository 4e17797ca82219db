package crew

// BatchOption configures NewBatcher. Every Option is also a BatchOption:
// WithQueueSize bounds the pending items and WithNonBlocking makes a full
// Batcher reject instead of wait.
type BatchOption interface {
	applyBatch(*batchConfig)
}

// batchConfig is what the batch options set.
type batchConfig struct {
	pool config
}
