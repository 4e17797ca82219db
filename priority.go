package crew

// priorityConfig holds the priority pool's options.
type priorityConfig struct{}
