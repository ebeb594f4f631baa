#!/usr/bin/env bash
# Writes the planted secrets of the scan benchmark into DIR/planted/, one per
# file, at a known line (3) among ordinary text. Values are fixed strings in
# the providers' formats (not real credentials), so runs are comparable.
set -euo pipefail
dir=$1/planted
mkdir -p "$dir"
plant() { # name, line
	printf '// configuration\n// do not edit\n%s\n// end\n' "$2" >"$dir/$1.txt"
}
plant 01-aws 'aws_access_key_id = "AKIA4HKQP2ZTQXW7LMNB"'
plant 02-github 'GITHUB_TOKEN=ghp_R4nd0mT0k3nV4lu3sXy2Zq8Wm1Lk9Jh7Fd3Ss5'
plant 03-gitlab 'gitlab_token: glpat-Xq7vR2mK9pLw4ZsT1nB8'
plant 04-slack 'SLACK_BOT_TOKEN=xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'
plant 05-stripe 'stripe.api_key = "sk_live_51HqR8kLmN2pQ4rS6tU8vW0xY2zA4bC6dE8fG0hI"'
plant 06-openai 'OPENAI_API_KEY=sk-proj-Zx8Qm2Lp5Rt7Wv9Yb3Nc6Kd1Fg4Hj0As8Df2Gh5Jk7Lm9Qw3Er6Ty1Ui4Op0AsT3BlbkFJq7Wx2Ez5Rc8Tv1Yb4Un7Im0Ok3Pl6As9Df2Gh5Jk8Lm1Qw4Er7Ty0Ui3Op6As9Df2Gh5JkLm'
plant 07-anthropic 'ANTHROPIC_API_KEY=sk-ant-api03-Qw8Er2Ty6Ui0Op4As8Df2Gh6Jk0Lz4Xc8Vb2Nm6Qw0Er4Ty8Ui2Op6As0Df4Gh8Jk2Lz6Xc0Vb4Nm8Qw2Er6Ty0Ui4Op8AA'
plant 08-sendgrid 'SENDGRID_API_KEY=SG.q8W2e4R6t8Y0u2I4o6P8aS.d0F2g4H6j8K0l2Z4x6C8v0B2n4M6q8W0e2R4t6Y8u0I'
plant 09-npm '//registry.npmjs.org/:_authToken=npm_Zq8Wm2Lk9Jh7Fd3Ss5Xy2Rt4Vb6Nc1Ka0Pq7x'
plant 10-gcp 'GOOGLE_API_KEY=AIzaSyD7kQ2mX9pL4wZ8sT1nB6vR3cF5gH0jK2y'
printf '%s\n' '-----BEGIN RSA PRIVATE KEY-----' \
	'MIIEowIBAAKCAQEAx8Zq2Wm4Lk9Jh7Fd3Ss5Xy2Rt4Vb6Nc1Ka0PqZx8Qm2Lp5Rt7Wv9Yb3Nc6Kd1' \
	'Fg4Hj0As8Df2Gh5Jk7Lm9Qw3Er6Ty1Ui4Op0As7Df3Gh9Jk1Lm5Qw8Er2Ty6Ui0Op4As8Df2Gh6Jk0' \
	'-----END RSA PRIVATE KEY-----' >"$dir/11-private-key.pem"
plant 12-twilio 'TWILIO_API_KEY=SK8f3a9c2e7b1d4f6a0c5e9b3d7f1a2c4e'
ls "$dir" | wc -l
