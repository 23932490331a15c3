"""The processing flow behind the blob trigger: what each durable activity does, the
orchestration's steps, and the progress messages clients receive.

- `ids`: the job id (= orchestration instance id) from a blob's path and content
- `staging`: where a job keeps ZIP members, parse results and extractions between activities
- `activities`: the activities' work, framework-free (the blueprint binds them)
- `traced`: runs each activity in its log context and span (job, instance, document ids)
- `orchestration`: the orchestrators as generators over a small context protocol
- `messages`: the Web PubSub messages of DESIGN.md section 7
"""
