#!/usr/bin/env bash
# Resolves the JVM services the tests and benchmarks start (Apache Kafka, Kafka Connect with
# Debezium, Apicurio Registry) from Maven Central: `test/jvm/resolve.sh kafka` copies the runtime classpath of
# test/jvm/kafka/pom.xml into .jvm/kafka/lib (git-ignored). A stamp of the pom's checksum skips the
# work when nothing changed, so the harness can call it before every run. Needs Java 17 and Maven.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# One run at a time: test files in parallel workers call this together on a fresh checkout, and one's
# `rm -rf "$lib"` must not empty a directory another has just filled and stamped.
mkdir -p "$root/.jvm"
exec 9>"$root/.jvm/resolve.lock"
flock 9
for name in "$@"; do
  pom="$root/test/jvm/$name/pom.xml"
  [ -f "$pom" ] || { echo "resolve.sh: no $pom; known: $(ls "$root/test/jvm" | grep -v '\.' | tr '\n' ' ')" >&2; exit 2; }
  lib="$root/.jvm/$name/lib"
  stamp="$root/.jvm/$name/pom.sha256"
  sum="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -d "$lib" ]; then continue; fi
  rm -rf "$lib"
  mkdir -p "$lib"
  if grep -q quarkus-maven-plugin "$pom"; then
    # A Quarkus application (apicurio): its pom builds the runnable jar into $lib.
    mvn -q -B -f "$pom" package -DskipTests >&2
  else
    mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib" >&2
  fi
  echo "$sum" > "$stamp"
done
