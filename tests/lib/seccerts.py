"""seccerts - a throw-away PKI for the security tests, made with the openssl CLI.

make_pki(dir) writes, all PEM:
  ca.crt / ca.key                 the test CA
  broker.pem                      broker key + certificate chain (ssl.keystore.location)
  broker.crt / broker.key         the same, separate
  client.crt / client.key         a client certificate signed by the CA,
                                  subject CN=client1,OU=test,O=brook
  rogue.crt / rogue.key           a self-signed client certificate the broker must refuse
Returns a dict name -> path.
"""

import os
import subprocess


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)


def make_pki(d):
    d = str(d)
    os.makedirs(d, exist_ok=True)
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Brook Test CA",
         "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, subj, ext in (("broker", "/CN=localhost", True), ("client", "/O=brook/OU=test/CN=client1", False)):
        _run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", name + ".key",
             "-out", name + ".csr", cwd=d)
        args = ["x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", name + ".crt"]
        if ext:
            args += ["-extfile", "san.ext"]
        _run(*args, cwd=d)
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rogue",
         "-keyout", "rogue.key", "-out", "rogue.crt", cwd=d)
    with open(os.path.join(d, "broker.pem"), "w") as out:
        for part in ("broker.key", "broker.crt", "ca.crt"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    names = ["ca.crt", "ca.key", "broker.pem", "broker.crt", "broker.key", "client.crt",
             "client.key", "rogue.crt", "rogue.key"]
    return {n: os.path.join(d, n) for n in names}
