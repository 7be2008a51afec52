#!/usr/bin/env bash
# Commit the state file and push it to BRANCH, rebasing onto whatever landed meanwhile.
#
#   examples/ci/push-state.sh STATE_FILE BRANCH [REMOTE]
#
# Used by the file-backend apply jobs (rlcm-apply.yml, gitlab-ci.yml) after `rlcm apply`,
# whatever apply exited with: the state records what was done, so the next run resumes.
# If `main` moved during the apply (another merge), the push is refused: fetch, rebase the
# state commit onto the new tip and push again, up to 5 times. A state file that someone
# else changed meanwhile cannot be rebased: that, and running out of attempts, fail the job
# loudly (exit 1) - the apply job also uploads the state file as an artifact, so it is
# never lost. With the PostgreSQL backend there is no state commit at all (docs/ci.md).
set -euo pipefail

state="${1:?usage: push-state.sh STATE_FILE BRANCH [REMOTE]}"
branch="${2:?usage: push-state.sh STATE_FILE BRANCH [REMOTE]}"
remote="${3:-origin}"
attempts="${RLCM_PUSH_ATTEMPTS:-5}"
message="${RLCM_STATE_COMMIT_MESSAGE:-rlcm: state after apply}"

fail() {
  # ::error:: is a GitHub annotation; on GitLab it is a plain, visible line
  echo "::error::rlcm state not pushed: $*" >&2
  exit 1
}

git add -- "$state"
if git diff --cached --quiet; then
  echo "rlcm state unchanged: nothing to push"
  exit 0
fi
git commit --quiet -m "$message" -- "$state"

for attempt in $(seq 1 "$attempts"); do
  if git push --quiet "$remote" "HEAD:refs/heads/$branch"; then
    echo "rlcm state pushed to $branch (attempt $attempt)"
    exit 0
  fi
  echo "push of the state refused (attempt $attempt of $attempts): $branch moved; rebasing" >&2
  git fetch --quiet "$remote" "$branch" || fail "cannot fetch $branch from $remote"
  if ! git rebase --quiet FETCH_HEAD; then
    git rebase --abort || true
    fail "$state was changed on $branch by someone else during this apply; the apply's" \
      "state is in the job's artifacts: merge it by hand (rlcm state show, git diff)"
  fi
  sleep "$((attempt * 2))"
done
fail "gave up after $attempts attempts; the apply's state is in the job's artifacts"
