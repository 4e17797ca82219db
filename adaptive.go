package crew

// adaptiveConfig holds the adaptive pool's options.
type adaptiveConfig struct{}
