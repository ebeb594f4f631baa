#!/usr/bin/env bash
# The brokered-credentials tests' certificates, made with the openssl CLI in
# DIR (tests/integration/t-broker.sh, bench/broker.sh):
#   ca.crt ca.key          the test root CA (CLAWBOX_UPSTREAM_CA_FILE)
#   api.crt api.key        its leaf for api.broker.test, tunnel.broker.test,
#                          other.broker.test, h2.broker.test (SAN DNS); not
#                          bad.broker.test; and IP_ADDRESS when given
#   rogue-ca.crt           a CA nobody trusts; rogue.crt rogue.key its leaf
#                          for rogue.broker.test
#   other-ca.crt           a CA that signed nothing a test meets (a client
#                          that trusts only it trusts no one here)
# usage: tests/broker/certs.sh DIR [IP_ADDRESS]
set -eu
d=$1
mkdir -p "$d"
cd "$d"
# ca NAME CN: a self-signed CA NAME.crt/NAME.key.
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=$2" -keyout "$1.key" -out "$1.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# leaf NAME CA SAN: NAME.crt/NAME.key signed by CA for SAN.
leaf() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=${3%%,*}" \
		-keyout "$1.key" -out "$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
		"$(echo "$3" | tr ',' '\n' | sed '/^IP:/!s/^/DNS:/' | paste -sd,)" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 \
		-extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
ca ca "clawbox test root CA"
ca rogue-ca "clawbox rogue CA"
ca other-ca "clawbox other CA"
leaf api ca "api.broker.test,tunnel.broker.test,other.broker.test,h2.broker.test${2:+,IP:$2}"
leaf rogue rogue-ca "rogue.broker.test"
chmod 644 ./*.crt ./*.key
