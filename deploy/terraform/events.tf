# EC2 events the pool acts on, delivered to one SQS queue the backend reads
# (POOL_EVENTS_QUEUE_URL): spot interruption warnings (two minutes' notice), rebalance
# recommendations (a warning that may come earlier) and instance state changes. EventBridge
# cannot filter on tags, so the queue gets the account's EC2 events of these kinds and the
# backend keeps those of its own instances.

locals {
  pool_event_rules = {
    spot-interruption = {
      description = "EC2 Spot Instance Interruption Warning"
      pattern     = { source = ["aws.ec2"], "detail-type" = ["EC2 Spot Instance Interruption Warning"] }
    }
    rebalance = {
      description = "EC2 Instance Rebalance Recommendation"
      pattern     = { source = ["aws.ec2"], "detail-type" = ["EC2 Instance Rebalance Recommendation"] }
    }
    state-change = {
      description = "EC2 Instance State-change Notification"
      pattern = {
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Instance State-change Notification"]
        detail        = { state = ["running", "stopping", "stopped", "shutting-down", "terminated"] }
      }
    }
  }
}

resource "aws_sqs_queue" "pool_events_dlq" {
  name                      = "${local.name}-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "pool_events" {
  name                       = "${local.name}-events"
  message_retention_seconds  = 86400 # an event older than a day is history, not news
  visibility_timeout_seconds = 60
  receive_wait_time_seconds  = 20 # long polling
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.pool_events_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_cloudwatch_event_rule" "pool_events" {
  for_each      = local.pool_event_rules
  name          = "${local.name}-${each.key}"
  description   = "RStudio Pool: ${each.value.description}"
  event_pattern = jsonencode(each.value.pattern)
}

resource "aws_cloudwatch_event_target" "pool_events" {
  for_each  = local.pool_event_rules
  rule      = aws_cloudwatch_event_rule.pool_events[each.key].name
  target_id = "pool-events-queue"
  arn       = aws_sqs_queue.pool_events.arn
}

# Only these rules may send to the queue.
data "aws_iam_policy_document" "pool_events_queue" {
  statement {
    sid       = "EventBridgeRules"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.pool_events.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for r in aws_cloudwatch_event_rule.pool_events : r.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "pool_events" {
  queue_url = aws_sqs_queue.pool_events.id
  policy    = data.aws_iam_policy_document.pool_events_queue.json
}
