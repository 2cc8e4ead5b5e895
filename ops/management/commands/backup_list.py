from ops.management.base import OpsCommand
from ops.selectors import backup_list


class Command(OpsCommand):
    help = "List recorded backups, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args, **options):
        records = self.run_operation("list", lambda: list(backup_list()[: options["limit"]]))
        header = (
            f"{'id':36}  {'started (UTC)':19}  {'kind':9}  {'status':9}  {'size':>12}  {'secs':>7}  {'verified':8}  "
            f"{'replica':7}  key"
        )
        self.stdout.write(header)
        for r in records:
            verified = {True: "ok", False: "FAILED", None: "-"}[r.verify_ok]
            self.stdout.write(
                f"{r.id!s:36}  {r.started_at:%Y-%m-%d %H:%M:%S}  {r.kind:9}  {r.status:9}  "
                f"{r.size_bytes if r.size_bytes is not None else '-':>12}  "
                f"{f'{r.duration_seconds:.1f}' if r.duration_seconds is not None else '-':>7}  {verified:8}  "
                f"{r.replica_status:7}  {r.key}"
            )
