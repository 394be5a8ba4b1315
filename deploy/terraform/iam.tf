# IAM: the backend's role (least privilege, the same document the EC2 provider's policy test
# checks: policies/*.json.tftpl are generated from backend/providers/ec2/iam-policy.ts by
# `npm run gen:iam`), the instance role and profile (only what the SSM agent needs), and the
# spot service-linked role.

locals {
  policy_vars = {
    partition          = local.partition
    region             = var.region
    accountId          = local.account_id
    poolName           = var.pool_name
    instanceRoleArn    = aws_iam_role.instance.arn
    instanceProfileArn = aws_iam_instance_profile.instance.arn
    # RunInstances is allowed for the purpose's instance types only.
    instanceTypes = var.purpose.instance_types
  }
}

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# --- the backend (the ECS task role) -----------------------------------------------------

resource "aws_iam_role" "backend" {
  name                 = "${local.name}-backend"
  description          = "RStudio Pool backend: launches and ends pool instances, brokers SSM sessions"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "backend_pool" {
  name   = "pool"
  role   = aws_iam_role.backend.id
  policy = templatefile("${path.module}/policies/backend.json.tftpl", local.policy_vars)
}

# The pool-events queue (spot warnings, rebalance, state changes): read and delete only.
data "aws_iam_policy_document" "backend_events" {
  statement {
    sid       = "ReadPoolEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.pool_events.arn]
  }
}

resource "aws_iam_role_policy" "backend_events" {
  name   = "pool-events"
  role   = aws_iam_role.backend.id
  policy = data.aws_iam_policy_document.backend_events.json
}

# ECS Exec (how the first user is created) needs the task to open SSM message channels.
data "aws_iam_policy_document" "backend_exec" {
  statement {
    sid       = "EcsExec"
    actions   = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "backend_exec" {
  count  = var.enable_backend_service && var.enable_execute_command ? 1 : 0
  name   = "ecs-exec"
  role   = aws_iam_role.backend.id
  policy = data.aws_iam_policy_document.backend_exec.json
}

# --- the ECS task execution role (pull the image, write logs, read the database URL) -----

resource "aws_iam_role" "task_execution" {
  count              = var.enable_backend_service ? 1 : 0
  name               = "${local.name}-task-execution"
  description        = "RStudio Pool backend tasks: image pull, logs, the database secret"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "task_execution" {
  count      = var.enable_backend_service ? 1 : 0
  role       = aws_iam_role.task_execution[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "task_execution_secret" {
  count = var.enable_backend_service ? 1 : 0
  statement {
    sid       = "DatabaseUrl"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.database_url[0].arn]
  }
}

resource "aws_iam_role_policy" "task_execution_secret" {
  count  = var.enable_backend_service ? 1 : 0
  name   = "database-url"
  role   = aws_iam_role.task_execution[0].id
  policy = data.aws_iam_policy_document.task_execution_secret[0].json
}

# --- the RStudio hosts -------------------------------------------------------------------

# Only what the SSM agent needs (registration, Run Command, Session Manager): user code must
# not get AWS rights from the host.
resource "aws_iam_role" "instance" {
  name               = "${local.name}-instance"
  description        = "RStudio Pool hosts: the SSM agent only"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
}

resource "aws_iam_role_policy" "instance" {
  name   = "ssm-agent"
  role   = aws_iam_role.instance.id
  policy = templatefile("${path.module}/policies/instance.json.tftpl", local.policy_vars)
}

resource "aws_iam_instance_profile" "instance" {
  name = "${local.name}-instance"
  role = aws_iam_role.instance.name
}

# Spot requests need this role once per account; AWS refuses a second one.
resource "aws_iam_service_linked_role" "spot" {
  count            = var.create_spot_service_linked_role ? 1 : 0
  aws_service_name = "spot.amazonaws.com"
  description      = "EC2 Spot (created by the RStudio Pool module)"
}
