#!/usr/bin/env bash
# Makes the test PKI in the current directory with the openssl tool: a CA, another CA, a server
# certificate for localhost and 127.0.0.1, one for another host, a leaf that is not a CA, and a
# server certificate and a CA that expired in 2021.
set -euo pipefail
q() { "$@" >/dev/null 2>&1; }
ca() { q openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days "$2" -subj "/CN=$3" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }
ca ca 3650 "Outbound Events Test CA"
ca other-ca 3650 "Some Other CA"
leaf() {
    q openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf 'basicConstraints=CA:FALSE\nsubjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$3" > "$1.ext"
    q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 365 -extfile "$1.ext"
}
leaf server localhost "DNS:localhost,IP:127.0.0.1"
leaf wrong other.example "DNS:other.example"
leaf leaf-not-ca leaf.example "DNS:leaf.example"
# Certificates valid only in 2020, signed with "openssl ca", which takes explicit dates.
: > index.txt
echo 1000 > serial
printf '[ca]\ndefault_ca=test\n[test]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=any\nunique_subject=no\n[any]\ncommonName=supplied\n' > ca.cnf
q openssl req -newkey rsa:2048 -nodes -keyout expired-server.key -out expired-server.csr -subj "/CN=localhost"
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > expired-server.ext
q openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired-server.csr -out expired-server.pem -notext -startdate 20200101000000Z -enddate 20210101000000Z -extfile expired-server.ext
q openssl req -newkey rsa:2048 -nodes -keyout expired-ca.key -out expired-ca.csr -subj "/CN=Expired CA"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > expired-ca.ext
q openssl ca -batch -config ca.cnf -selfsign -keyfile expired-ca.key -in expired-ca.csr -out expired-ca.pem -notext -startdate 20200101000000Z -enddate 20210101000000Z -extfile expired-ca.ext
