package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/s3"
)

// s3Frontend starts 2 groups × 2 ellipticsd and serves the S3 handler over
// them from this process; it returns the endpoint and the environment a
// client needs.
func s3Frontend(t *testing.T) (string, []string) {
	url, env, _ := s3FrontendNodes(t)
	return url, env
}

func s3FrontendNodes(t *testing.T) (string, []string, []*clusterNode) {
	return s3FrontendTLS(t, false)
}

// s3FrontendTLS is s3FrontendNodes, over HTTPS (a self-signed certificate)
// when tls: there clients send unsigned aws-chunked bodies with trailing
// checksums.
func s3FrontendTLS(t *testing.T, tls bool) (string, []string, []*clusterNode) {
	nodes := newCluster(t, 2, 2)
	startAll(t, nodes)
	sess := session(t, nodes[0].addr)
	waitTable(t, sess, 4)
	sess.SetTimeout(30 * time.Second)
	h := s3.New(sess, s3.Options{Credentials: map[string]string{"AKIDELLIPTICS": "elliptics-secret"}})
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	env := append(os.Environ(), "S3_ENDPOINT="+srv.URL, "AWS_ACCESS_KEY_ID=AKIDELLIPTICS",
		"AWS_SECRET_ACCESS_KEY=elliptics-secret", "AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	return srv.URL, env, nodes
}

func needPython(t *testing.T, module string) {
	if err := exec.Command("python3", "-c", "import "+module).Run(); err != nil {
		t.Skipf("python3 with %s: %v", module, err)
	}
}

// TestS3Boto3 runs tests/s3/boto3_test.py against real daemons.
func TestS3Boto3(t *testing.T) {
	needPython(t, "boto3")
	_, env := s3Frontend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", filepath.Join("..", "s3", "boto3_test.py"))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "ok")
}

// TestS3Boto3TLS runs the boto3 script over HTTPS, where boto3 streams
// uploads as aws-chunked bodies with a trailing CRC32.
func TestS3Boto3TLS(t *testing.T) {
	needPython(t, "boto3")
	_, env, _ := s3FrontendTLS(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", filepath.Join("..", "s3", "boto3_test.py"))
	cmd.Env = append(env, "S3_INSECURE=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "ok")
}

// TestS3AWSCLI drives the frontend with `aws s3` and `aws s3api`.
func TestS3AWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("no aws CLI")
	}
	url, env := s3Frontend(t)
	aws := awsCLI(t, url, env)
	dir := t.TempDir()
	big := make([]byte, 20<<20) // above the CLI's 8 MiB multipart threshold
	_, _ = rand.Read(big)
	small := []byte("hello from the aws cli\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "small.txt"), small, 0o644))

	aws("s3", "mb", "s3://clibucket")
	aws("s3", "cp", filepath.Join(dir, "big.bin"), "s3://clibucket/data/big.bin")
	aws("s3", "cp", filepath.Join(dir, "small.txt"), "s3://clibucket/small.txt")
	ls := aws("s3", "ls", "--recursive", "s3://clibucket")
	require.Contains(t, ls, "data/big.bin")
	require.Contains(t, ls, "small.txt")
	require.Contains(t, aws("s3", "ls", "s3://clibucket"), "PRE data/")
	aws("s3", "cp", "s3://clibucket/data/big.bin", filepath.Join(dir, "big.out"))
	got, err := os.ReadFile(filepath.Join(dir, "big.out"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, got), "big.bin came back different")
	// A server-side copy of a multipart size: CreateMultipartUpload and
	// UploadPartCopy.
	aws("s3", "cp", "s3://clibucket/data/big.bin", "s3://clibucket/copy/big.bin")
	aws("s3", "cp", "s3://clibucket/copy/big.bin", filepath.Join(dir, "copy.out"))
	got, err = os.ReadFile(filepath.Join(dir, "copy.out"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, got), "the copy of big.bin came back different")
	head := aws("s3api", "head-object", "--bucket", "clibucket", "--key", "small.txt")
	require.Contains(t, head, `"ContentLength": 23`)
	aws("s3api", "put-object", "--bucket", "clibucket", "--key", "api.txt", "--body", filepath.Join(dir, "small.txt"))
	require.Contains(t, aws("s3api", "list-objects-v2", "--bucket", "clibucket", "--prefix", "api"), `"Key": "api.txt"`)
	aws("s3", "rm", "--recursive", "s3://clibucket")
	aws("s3", "rb", "s3://clibucket")
	require.NotContains(t, aws("s3", "ls"), "clibucket")
}

// TestS3MotoDifferential compares answers with moto's for the same calls
// (tests/s3/moto_diff.py).
func TestS3MotoDifferential(t *testing.T) {
	needPython(t, "moto.server")
	_, env := s3Frontend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", filepath.Join("..", "s3", "moto_diff.py"))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "%s", out)
}

// awsCLI returns a runner of the aws CLI against the endpoint.
func awsCLI(t *testing.T, url string, env []string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", url}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "aws %s: %s", strings.Join(args, " "), out)
		return string(out)
	}
}

// TestS3SurvivesNodeLoss: with a node of the second group killed, objects
// written before are read back and new ones are written and listed (data
// goes to every group that answers; records are kept in the lowest group).
func TestS3SurvivesNodeLoss(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("no aws CLI")
	}
	url, env, nodes := s3FrontendNodes(t)
	aws := awsCLI(t, url, env)
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), data, 0o644))
	aws("s3", "mb", "s3://lossbucket")
	for i := range 5 {
		aws("s3", "cp", filepath.Join(dir, "f"), "s3://lossbucket/before/"+strconv.Itoa(i))
	}
	for _, n := range nodes {
		if n.group == 2 {
			n.d.kill()
			break
		}
	}
	for i := range 5 {
		out := filepath.Join(dir, "out"+strconv.Itoa(i))
		aws("s3", "cp", "s3://lossbucket/before/"+strconv.Itoa(i), out)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got))
		aws("s3", "cp", filepath.Join(dir, "f"), "s3://lossbucket/after/"+strconv.Itoa(i))
	}
	ls := aws("s3", "ls", "--recursive", "s3://lossbucket")
	require.Equal(t, 10, strings.Count(ls, "\n"), ls)
}

// TestS3InDaemon: ellipticsd with [s3] enabled serves S3 on its [http]
// port beside /v1/, and both see the cluster.
func TestS3InDaemon(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("no aws CLI")
	}
	dir := t.TempDir()
	addr, httpAddr := freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "node.toml")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[node]
listen = [%q]
data_dir = %q

[http]
addr = %q

[s3]
enabled = true
[[s3.credentials]]
access_key = "AKIDDAEMON"
secret_key = "daemon-secret"
`, addr, filepath.Join(dir, "data"), httpAddr)), 0o644))
	startDaemon(t, dir, "--config", conf)
	url := "http://" + httpAddr
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDDAEMON", "AWS_SECRET_ACCESS_KEY=daemon-secret",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	aws := awsCLI(t, url, env)
	src := filepath.Join(dir, "hello.txt")
	require.NoError(t, os.WriteFile(src, []byte("hello through the daemon\n"), 0o644))
	require.Eventually(t, func() bool {
		cmd := exec.Command("aws", "--endpoint-url", url, "s3", "mb", "s3://daemonbucket")
		cmd.Env = env
		return cmd.Run() == nil
	}, 20*time.Second, 200*time.Millisecond, "the daemon's S3 API never answered")
	aws("s3", "cp", src, "s3://daemonbucket/hello.txt")
	require.Contains(t, aws("s3", "ls", "s3://daemonbucket"), "hello.txt")
	out := filepath.Join(dir, "out.txt")
	aws("s3", "cp", "s3://daemonbucket/hello.txt", out)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "hello through the daemon\n", string(got))

	// Unsigned requests are refused in S3's shape; /v1/ is the plain API.
	resp, err := http.Get(url + "/daemonbucket/hello.txt")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, string(body), "<Code>AccessDenied</Code>")
	resp, err = http.Get(url + "/v1/ns/missing")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
