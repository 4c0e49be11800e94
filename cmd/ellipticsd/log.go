package main

import (
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/elliptics/elliptics/core/config"
)

// newLogger returns the daemon's logger writing to w, in node.log_format,
// at node.log_level (the configuration is already validated). The level is
// a zap.AtomicLevel so that it can be changed while running.
func newLogger(n config.Node, w io.Writer) *zap.Logger {
	level := zap.NewAtomicLevel()
	if err := level.UnmarshalText([]byte(n.LogLevel)); err != nil {
		level.SetLevel(zap.InfoLevel)
	}
	var enc zapcore.Encoder
	if n.LogFormat == "json" {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	ws := zapcore.Lock(zapcore.AddSync(w))
	return zap.New(zapcore.NewCore(enc, ws, level), zap.ErrorOutput(ws))
}
