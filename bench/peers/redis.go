package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// redisStore is redis-server 7 with an append-only file (appendfsync
// everysec or always), no RDB snapshots, reached by one go-redis client
// whose pool holds a connection per worker.
type redisStore struct {
	p *proc
	c *redis.Client
}

func startRedis(ctx context.Context, work, fsync string, clients int) (Store, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := startProc("redis", work, nil, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", work, "--appendonly", "yes", "--appendfsync", fsync, "--save", "", "--protected-mode", "no",
		"--daemonize", "no", "--logfile", "")
	if err != nil {
		return nil, err
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), PoolSize: clients + 4,
		MinIdleConns: 0, DisableIdentity: true, Protocol: 2})
	if err := p.waitReady(func() error {
		// Dial first: go-redis logs every refused dial.
		nc, err := net.Dial("tcp", c.Options().Addr)
		if err != nil {
			return err
		}
		nc.Close()
		return c.Ping(ctx).Err()
	}); err != nil {
		c.Close()
		p.stop()
		return nil, err
	}
	return &redisStore{p: p, c: c}, nil
}

func (s *redisStore) Worker(int) (KV, error) { return s, nil }
func (s *redisStore) Pids() []int            { return []int{s.p.cmd.Process.Pid} }
func (s *redisStore) Close() error           { err := s.c.Close(); s.p.stop(); return err }

func (s *redisStore) Put(ctx context.Context, key string, value []byte) error {
	return s.c.Set(ctx, key, value, 0).Err()
}

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, errNotFound
	}
	return b, err
}
