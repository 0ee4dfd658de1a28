#!/usr/bin/env php
<?php
// Signs one dynaBOARD -> HipChat request (docs/signing.md) and prints its two headers.
//
//   DYNABOARD_SIGNING_KEY=... php sign.php METHOD PATH_AND_QUERY [BODY_FILE|-] [TIMESTAMP]
//
// PATH_AND_QUERY exactly as sent (percent-encoded); the body is BODY_FILE's bytes, or stdin
// when BODY_FILE is "-" or left out (/dev/null: no body); TIMESTAMP defaults to now.

/** The X-Dynaboard-Signature value: HMAC-SHA256 over v1:<ts>:<METHOD>:<path?query>:<body>. */
function dynaboard_signature(string $key, string $timestamp, string $method, string $pathAndQuery, string $body): string
{
    // PHP strings are bytes: a UTF-8 key and body are signed as their UTF-8 bytes.
    return 'v1=' . hash_hmac('sha256', "v1:$timestamp:$method:$pathAndQuery:" . $body, $key);
}

$key = getenv('DYNABOARD_SIGNING_KEY');
if ($key === false || $key === '') {
    fwrite(STDERR, "sign.php: set DYNABOARD_SIGNING_KEY to the signing key\n");
    exit(1);
}
if ($argc < 3 || $argc > 5) {
    fwrite(STDERR, "usage: sign.php METHOD PATH_AND_QUERY [BODY_FILE|-] [TIMESTAMP]\n");
    exit(1);
}
[$method, $pathAndQuery] = [$argv[1], $argv[2]];
$bodyFile = $argv[3] ?? '-';
$timestamp = $argv[4] ?? (string) time();
$body = file_get_contents($bodyFile === '-' ? 'php://stdin' : $bodyFile);
if ($body === false) {
    fwrite(STDERR, "sign.php: cannot read $bodyFile\n");
    exit(1);
}

echo "X-Dynaboard-Timestamp: $timestamp\n";
echo 'X-Dynaboard-Signature: ' . dynaboard_signature($key, $timestamp, $method, $pathAndQuery, $body) . "\n";
