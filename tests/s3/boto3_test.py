"""boto3 against the elliptics S3 frontend.

Run by tests/e2e/s3_test.go with S3_ENDPOINT set (credentials in the usual
AWS_* variables); every check is an assert, the script prints "ok" at the end.
"""
import hashlib
import io
import os
import sys
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["S3_ENDPOINT"]
VERIFY = True
if os.environ.get("S3_INSECURE"):
    # A test server's self-signed certificate.
    import ssl
    import urllib3
    urllib3.disable_warnings()
    ssl._create_default_https_context = ssl._create_unverified_context
    VERIFY = False


def client(config=None, **kw):
    config = config or Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", config=config, verify=VERIFY, **kw)


def code_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("no error from %s" % fn.__name__)


def main():
    s3 = client()
    s3.create_bucket(Bucket="pybucket")
    assert code_of(s3.create_bucket, Bucket="pybucket")[0] == "BucketAlreadyOwnedByYou"
    s3.head_bucket(Bucket="pybucket")
    assert "pybucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    body = os.urandom(200_000)
    r = s3.put_object(Bucket="pybucket", Key="dir/a.bin", Body=body, ContentType="application/x-test",
                      Metadata={"owner": "py"})
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), r["ETag"]
    g = s3.get_object(Bucket="pybucket", Key="dir/a.bin")
    assert g["Body"].read() == body
    assert g["ContentType"] == "application/x-test"
    assert g["Metadata"] == {"owner": "py"}, g["Metadata"]
    g = s3.get_object(Bucket="pybucket", Key="dir/a.bin", Range="bytes=10-19")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["Body"].read() == body[10:20]
    assert g["ContentRange"] == "bytes 10-19/200000"
    h = s3.head_object(Bucket="pybucket", Key="dir/a.bin")
    assert h["ContentLength"] == 200000
    assert code_of(s3.head_object, Bucket="pybucket", Key="nope")[1] == 404
    assert code_of(s3.get_object, Bucket="pybucket", Key="nope")[0] == "NoSuchKey"

    # Listing: 25 keys under 3 prefixes plus top-level ones, paginated.
    want = []
    for d in ("x", "y", "z"):
        for i in range(7):
            k = "%s/%02d" % (d, i)
            s3.put_object(Bucket="pybucket", Key=k, Body=k.encode())
            want.append(k)
    want = sorted(want + ["dir/a.bin"])
    got = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pybucket", PaginationConfig={"PageSize": 4}):
        got += [o["Key"] for o in page.get("Contents", [])]
    assert got == want, got
    got = []
    for page in s3.get_paginator("list_objects").paginate(Bucket="pybucket", PaginationConfig={"PageSize": 5}):
        got += [o["Key"] for o in page.get("Contents", [])]
    assert got == want, got
    r = s3.list_objects_v2(Bucket="pybucket", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/", "x/", "y/", "z/"], r
    r = s3.list_objects_v2(Bucket="pybucket", Prefix="y/", StartAfter="y/04")
    assert [o["Key"] for o in r["Contents"]] == ["y/05", "y/06"]

    # Keys that need encoding: spaces, plus signs, unicode, percent signs.
    for k in ("odd/sp ace+plus%25.txt", "odd/ünïcødé/é", "odd/a?b&c=d"):
        s3.put_object(Bucket="pybucket", Key=k, Body=k.encode())
        assert s3.get_object(Bucket="pybucket", Key=k)["Body"].read() == k.encode(), k
    r = s3.list_objects_v2(Bucket="pybucket", Prefix="odd/")
    assert [o["Key"] for o in r["Contents"]] == sorted(["odd/sp ace+plus%25.txt", "odd/ünïcødé/é", "odd/a?b&c=d"]), r["Contents"]
    r = s3.list_objects(Bucket="pybucket", Prefix="odd/", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["odd/ünïcødé/"], r
    s3.delete_objects(Bucket="pybucket", Delete={"Objects": [{"Key": o["Key"]} for o in
                                                          s3.list_objects_v2(Bucket="pybucket", Prefix="odd/")["Contents"]]})

    # Copy and batch delete.
    s3.copy_object(Bucket="pybucket", Key="copied", CopySource={"Bucket": "pybucket", "Key": "dir/a.bin"})
    assert s3.get_object(Bucket="pybucket", Key="copied")["Body"].read() == body
    r = s3.delete_objects(Bucket="pybucket", Delete={"Objects": [{"Key": "x/%02d" % i} for i in range(7)]})
    assert len(r["Deleted"]) == 7
    r = s3.list_objects_v2(Bucket="pybucket", Prefix="x/")
    assert r["KeyCount"] == 0

    # Multipart through the transfer manager: 12 MiB in 5 MiB parts.
    big = os.urandom(12 << 20)
    cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, max_concurrency=3)
    s3.upload_fileobj(io.BytesIO(big), "pybucket", "big.bin", Config=cfg)
    h = s3.head_object(Bucket="pybucket", Key="big.bin")
    assert h["ContentLength"] == len(big)
    assert h["ETag"].endswith('-3"'), h["ETag"]
    out = io.BytesIO()
    s3.download_fileobj("pybucket", "big.bin", out, Config=cfg)
    assert out.getvalue() == big

    # Low-level multipart: list parts and uploads, abort.
    up = s3.create_multipart_upload(Bucket="pybucket", Key="aborted")["UploadId"]
    s3.upload_part(Bucket="pybucket", Key="aborted", UploadId=up, PartNumber=1, Body=b"abc")
    assert [p["PartNumber"] for p in s3.list_parts(Bucket="pybucket", Key="aborted", UploadId=up)["Parts"]] == [1]
    assert up in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="pybucket")["Uploads"]]
    s3.abort_multipart_upload(Bucket="pybucket", Key="aborted", UploadId=up)
    assert code_of(s3.list_parts, Bucket="pybucket", Key="aborted", UploadId=up)[0] == "NoSuchUpload"

    # Presigned URLs: boto3's default (SigV2 query) and SigV4.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "pybucket", "Key": "dir/a.bin"}, ExpiresIn=60)
    assert urllib.request.urlopen(url).read() == body
    s3v4 = client(config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": "pybucket", "Key": "dir/a.bin"}, ExpiresIn=60)
    assert "X-Amz-Signature" in url, url
    assert urllib.request.urlopen(url).read() == body
    try:
        urllib.request.urlopen(url.replace("a.bin", "b.bin"))
        raise AssertionError("tampered presigned URL accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 403 and b"SignatureDoesNotMatch" in e.read()
    url = s3v4.generate_presigned_url("put_object", Params={"Bucket": "pybucket", "Key": "presigned"}, ExpiresIn=60)
    req = urllib.request.Request(url, data=b"via presigned put", method="PUT")
    assert urllib.request.urlopen(req).status == 200
    assert s3.get_object(Bucket="pybucket", Key="presigned")["Body"].read() == b"via presigned put"

    # Errors: unsupported operations, bad secret, non-empty bucket.
    assert code_of(s3.get_bucket_acl, Bucket="pybucket") == ("NotImplemented", 501)
    bad = client(aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong")
    assert code_of(bad.list_buckets) == ("SignatureDoesNotMatch", 403)
    assert code_of(s3.delete_bucket, Bucket="pybucket") == ("BucketNotEmpty", 409)

    # Empty the bucket and delete it.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pybucket"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket="pybucket", Delete={"Objects": keys})
    s3.delete_bucket(Bucket="pybucket")
    assert code_of(s3.head_bucket, Bucket="pybucket")[1] == 404
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
