"""TLS from Python: Config(tls_ca=..., tls_cert=..., tls_key=...) against
ellipticsd with a [tls] table and client_auth = "require" (docs/tls.md)."""

import os
import shutil
import subprocess

import pytest

import elliptics
from conftest import Daemon, _free_addr

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make certificates")


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def _cert(d: str, name: str, ext: str) -> None:
    _openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext", cwd=d)


@pytest.fixture(scope="module")
def tls_node(daemon_binary: str, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    _openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test ca", cwd=d)
    _cert(d, "node", "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth, clientAuth\n")
    _cert(d, "client", "extendedKeyUsage = clientAuth\n")
    conf = os.path.join(d, "node.toml")
    with open(conf, "w") as f:
        f.write('[node]\nlisten = ["%s"]\ndata_dir = "%s"\n\n[[backend]]\ngroup = 1\ntype = "mem"\n\n'
                '[tls]\ncert_file = "%s/node.crt"\nkey_file = "%s/node.key"\nca_file = "%s/ca.crt"\n'
                'client_auth = "require"\n' % (_free_addr(), os.path.join(d, "data"), d, d, d))
    daemon = Daemon(daemon_binary, 1, os.path.join(d, "daemon"), conf)
    yield d, daemon
    daemon.kill()


def _node(**tls) -> elliptics.Node:
    return elliptics.Node(elliptics.Logger("", elliptics.log_level.error),
                          elliptics.Config(wait_timeout=3, dial_timeout=3, **tls))


def test_tls_round_trip(tls_node):
    d, daemon = tls_node
    with _node(tls_ca=d + "/ca.crt", tls_cert=d + "/client.crt", tls_key=d + "/client.key") as n:
        n.add_remotes(daemon.addr)
        s = elliptics.Session(n)
        s.groups = [1]
        s.write_data("tls-key", b"over tls").get()
        assert s.read_data("tls-key").get()[0].data == b"over tls"


def test_tls_refused(tls_node):
    d, daemon = tls_node
    # No client certificate: the node requires one.
    with _node(tls_ca=d + "/ca.crt") as n:
        with pytest.raises(elliptics.Error) as e:
            n.add_remotes(daemon.addr)
        assert "certificate" in str(e.value)
    # Plain TCP to a TLS node.
    with _node() as n:
        with pytest.raises(elliptics.Error):
            n.add_remotes(daemon.addr)
    # Bad files are reported by Node() itself.
    with pytest.raises(elliptics.Error) as e:
        _node(tls_ca=d + "/missing.crt")
    assert "missing.crt" in str(e.value)
    with pytest.raises(elliptics.Error) as e:
        _node(tls_cert=d + "/client.crt")
    assert "both files or neither" in str(e.value)
