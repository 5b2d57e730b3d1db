#!/bin/sh
# Makes the test API server's TLS material with the openssl CLI into DIR:
#   ca.crt ca.key            the cluster CA (EC P-256, like kubeadm's ECDSA option)
#   server.crt server.key    the API server, for 127.0.0.1 and localhost
#   client.crt client.key    a client certificate, CN=cert-user, O=system:masters
#   other-ca.crt             a CA that signed nothing here (verification must fail)
#   wrong-host.crt .key      the CA's certificate for other.example only (name check must fail)
# Usage: make_certs.sh DIR
set -eu
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -subj /CN=kubernetes-test-ca -days 2 -out ca.crt \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key other-ca.key
openssl req -x509 -new -key other-ca.key -subj /CN=other-ca -days 2 -out other-ca.crt \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key server.key
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
openssl req -new -key server.key -subj /CN=kube-apiserver -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.ext -out server.crt 2>/dev/null
key wrong-host.key
printf 'subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n' >wrong-host.ext
openssl req -new -key wrong-host.key -subj /CN=other.example -out wrong-host.csr
openssl x509 -req -in wrong-host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile wrong-host.ext -out wrong-host.crt 2>/dev/null
key client.key
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl req -new -key client.key -subj /O=system:masters/CN=cert-user -out client.csr
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile client.ext -out client.crt 2>/dev/null
rm -f server.csr client.csr wrong-host.csr server.ext client.ext wrong-host.ext ca.srl other-ca.key
