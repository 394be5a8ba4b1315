# Daily snapshots of users' home volumes by Data Lifecycle Manager, kept N days. The pool
# never deletes a home volume; these snapshots protect against a user's own mistakes and a
# lost zone. Targets: volumes tagged Role=home and Pool=<pool_name> (the provider's tags).

data "aws_iam_policy_document" "dlm_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["dlm.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "dlm" {
  count              = var.enable_home_snapshots ? 1 : 0
  name               = "${local.name}-dlm"
  description        = "RStudio Pool: Data Lifecycle Manager snapshots of home volumes"
  assume_role_policy = data.aws_iam_policy_document.dlm_trust.json
}

resource "aws_iam_role_policy_attachment" "dlm" {
  count      = var.enable_home_snapshots ? 1 : 0
  role       = aws_iam_role.dlm[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"
}

resource "aws_dlm_lifecycle_policy" "homes" {
  count              = var.enable_home_snapshots ? 1 : 0
  description        = "${local.name} home volumes daily kept ${var.home_snapshot_retain_days} days" # DLM allows letters, digits, spaces, _ and - only
  execution_role_arn = aws_iam_role.dlm[0].arn
  state              = "ENABLED"

  policy_details {
    policy_type    = "EBS_SNAPSHOT_MANAGEMENT"
    resource_types = ["VOLUME"]
    target_tags    = { Role = "home", Pool = var.pool_name }

    schedule {
      name        = "daily"
      copy_tags   = true # Owner, Purpose and cost tags carry over to the snapshot
      tags_to_add = { SnapshotOf = "rstudio-pool-home" }

      create_rule {
        interval      = 24
        interval_unit = "HOURS"
        times         = [var.home_snapshot_time]
      }
      retain_rule {
        interval      = var.home_snapshot_retain_days
        interval_unit = "DAYS"
      }
    }
  }
}
