"""Differential test: the same raw S3 calls against the elliptics frontend
(S3_ENDPOINT) and moto in server mode; compares status codes and the shape
of the XML answers (element paths, namespaces dropped) and a few headers.

Exits non-zero on a difference not listed in KNOWN (each a documented
deviation, see docs/s3.md). Prints a table of every call.
"""
import os
import re
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# Calls whose shapes are known to differ, with why.
KNOWN = {
    "get-bucket-acl": "ACLs are not implemented: 501 NotImplemented",
    "list-v1": "S3 sends an empty Prefix and Marker in V1 listings; moto leaves them out",
    "list-v1-page": "moto lists a key where S3 (and we) roll dir/ into a common prefix first; S3 sends Marker and Prefix",
    "list-uploads": "S3 sends NextKeyMarker, NextUploadIdMarker and Prefix; moto leaves them out",
    "list-parts": "moto names the root ListPartsResponse; S3 (and we) ListPartsResult",
    "complete-upload": "moto names the root CompleteMultipartUploadResponse; S3 (and we) CompleteMultipartUploadResult",
}

CALLS = [
    # name, method, path, body, headers
    ("create-bucket", "PUT", "/diffbkt", b"", {}),
    ("head-bucket", "HEAD", "/diffbkt", b"", {}),
    ("head-missing-bucket", "HEAD", "/nosuchbkt", b"", {}),
    ("list-buckets", "GET", "/", b"", {}),
    ("put-object", "PUT", "/diffbkt/dir/a.txt", b"hello differential world", {"x-amz-meta-k": "v", "Content-Type": "text/plain"}),
    ("put-object-2", "PUT", "/diffbkt/dir/b.txt", b"second", {}),
    ("put-object-top", "PUT", "/diffbkt/top.txt", b"top", {}),
    ("get-object", "GET", "/diffbkt/dir/a.txt", b"", {}),
    ("get-object-range", "GET", "/diffbkt/dir/a.txt", b"", {"Range": "bytes=6-17"}),
    ("get-object-bad-range", "GET", "/diffbkt/dir/a.txt", b"", {"Range": "bytes=1000-"}),
    ("head-object", "HEAD", "/diffbkt/dir/a.txt", b"", {}),
    ("get-missing-key", "GET", "/diffbkt/nope", b"", {}),
    ("get-missing-bucket", "GET", "/nosuchbkt/x", b"", {}),
    ("list-v2", "GET", "/diffbkt?list-type=2", b"", {}),
    ("list-v2-delim", "GET", "/diffbkt?list-type=2&delimiter=%2F", b"", {}),
    ("list-v2-page", "GET", "/diffbkt?list-type=2&max-keys=1", b"", {}),
    ("list-v2-prefix", "GET", "/diffbkt?list-type=2&prefix=dir%2F&start-after=dir%2Fa.txt", b"", {}),
    ("list-v1", "GET", "/diffbkt", b"", {}),
    ("list-v1-page", "GET", "/diffbkt?max-keys=1&delimiter=%2F", b"", {}),
    ("copy-object", "PUT", "/diffbkt/copy.txt", b"", {"x-amz-copy-source": "/diffbkt/dir/a.txt"}),
    ("delete-objects", "POST", "/diffbkt?delete",
     b"<Delete><Object><Key>copy.txt</Key></Object><Object><Key>ghost</Key></Object></Delete>", {}),
    ("create-upload", "POST", "/diffbkt/mp.bin?uploads", b"", {}),
    ("upload-part", "PUT", "/diffbkt/mp.bin?partNumber=1&uploadId={upload}", b"part one", {}),
    ("list-parts", "GET", "/diffbkt/mp.bin?uploadId={upload}", b"", {}),
    ("list-uploads", "GET", "/diffbkt?uploads", b"", {}),
    ("complete-upload", "POST", "/diffbkt/mp.bin?uploadId={upload}",
     b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>", {}),
    ("get-multipart", "GET", "/diffbkt/mp.bin", b"", {}),
    ("no-such-upload", "GET", "/diffbkt/mp.bin?uploadId=nosuchupload", b"", {}),
    ("get-bucket-acl", "GET", "/diffbkt?acl", b"", {}),
    ("delete-nonempty-bucket", "DELETE", "/diffbkt", b"", {}),
    ("delete-object", "DELETE", "/diffbkt/dir/a.txt", b"", {}),
    ("delete-missing-object", "DELETE", "/diffbkt/never", b"", {}),
]

HEADERS = ["ETag", "Content-Range", "Content-Length", "x-amz-meta-k"]


def call(endpoint, method, path, body, headers):
    creds = Credentials(os.environ.get("AWS_ACCESS_KEY_ID", "testing"), os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    headers = dict(headers)
    if method in ("PUT", "POST"):
        # Else urllib sends a form content type, which moto parses as a form.
        headers.setdefault("Content-Type", "application/octet-stream")
    req = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers)
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    r = urllib.request.Request(endpoint + path, data=body if method in ("PUT", "POST") else None, method=method,
                               headers={k: v for k, v in req.headers.items()})
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def shape(body):
    """The set of element paths of an XML body (namespaces dropped)."""
    if not body.strip().startswith(b"<"):
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    paths = set()

    def walk(el, prefix):
        tag = re.sub(r"^\{.*\}", "", el.tag)
        p = prefix + "/" + tag
        paths.add(p)
        for c in el:
            walk(c, p)
    walk(root, "")
    return paths


def value(body, tag):
    m = re.search(rb"<%s>([^<]*)</%s>" % (tag.encode(), tag.encode()), body)
    return m.group(1).decode().replace("&quot;", '"').replace("&#34;", '"') if m else ""


def run(endpoint):
    out, vars_ = {}, {}
    for name, method, path, body, headers in CALLS:
        path = path.format(**vars_)
        body = body.replace(b"{etag}", vars_.get("etag", "").encode())
        st, hdrs, data = call(endpoint, method, path, body, headers)
        if name == "create-upload":
            vars_["upload"] = value(data, "UploadId")
        if name == "upload-part":
            vars_["etag"] = {k.lower(): v for k, v in hdrs.items()}.get("etag", "")
        low = {k.lower(): v for k, v in hdrs.items()}
        out[name] = (st, shape(data), {h: low.get(h.lower()) for h in HEADERS}, data)
    return out


def main():
    from moto.server import ThreadedMotoServer
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        theirs = run("http://127.0.0.1:%d" % port)
    finally:
        moto.stop()
    ours = run(os.environ["S3_ENDPOINT"])
    bad = 0
    print("%-24s %-6s %-6s %s" % ("call", "ours", "moto", "verdict"))
    for name, *_ in CALLS:
        (s1, x1, h1, b1), (s2, x2, h2, b2) = ours[name], theirs[name]
        diffs = []
        if s1 != s2:
            diffs.append("status %d vs %d" % (s1, s2))
        if x1 != x2 and x1 is not None and x2 is not None:
            only1, only2 = sorted(x1 - x2), sorted(x2 - x1)
            if only1 or only2:
                diffs.append("xml: only ours %s, only moto %s" % (only1, only2))
        elif (x1 is None) != (x2 is None) and s1 < 300 and s2 < 300:
            diffs.append("xml body: ours %s, moto %s" % (x1 is not None, x2 is not None))
        for h in HEADERS:
            if (h1[h] is None) != (h2[h] is None):
                diffs.append("header %s: ours %r, moto %r" % (h, h1[h], h2[h]))
            elif h in ("ETag", "Content-Range", "x-amz-meta-k") and h1[h] != h2[h] and "upload" not in name:
                diffs.append("header %s: ours %r, moto %r" % (h, h1[h], h2[h]))
        verdict = "same"
        if diffs:
            if name in KNOWN:
                verdict = "known: " + KNOWN[name]
            else:
                verdict = "DIFF: " + "; ".join(diffs)
                bad += 1
        print("%-24s %-6d %-6d %s" % (name, s1, s2, verdict))
    if bad:
        print("%d unexpected differences" % bad)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
