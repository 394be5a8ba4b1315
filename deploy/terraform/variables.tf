# Inputs. The few an operator must choose are at the top (see terraform.tfvars.example);
# everything else has a default a platform team can live with.

# --- must choose -------------------------------------------------------------------------

variable "region" {
  description = "AWS region of the whole stack, e.g. eu-west-1."
  type        = string
  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-1."
  }
}

variable "pool_name" {
  description = "Name of the pool: the value of the Pool tag on every instance, volume and AMI, and the prefix of resource names. One pool per name and region."
  type        = string
  validation {
    # The backend's own rule (lowercase, digits, dashes), shortened so that "rsp-<name>-hosts"
    # still fits the 32-character limit of load balancer and target group names.
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.pool_name))
    error_message = "pool_name must be 1-20 lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "domain_name" {
  description = "DNS name users put in the extension's rstudioPool.backendUrl setting (https://<domain_name>), e.g. pool.example.org."
  type        = string
  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as pool.example.org."
  }
}

variable "route53_zone_id" {
  description = "Public Route 53 hosted zone of domain_name: the module validates the certificate by DNS there and points domain_name at the load balancer. Empty: you give certificate_arn and create the DNS record yourself."
  type        = string
  default     = ""
  validation {
    condition     = var.route53_zone_id == "" || can(regex("^[A-Z0-9]{1,32}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone id (uppercase letters and digits, e.g. Z0123456789ABCDEFGHIJ), or empty."
  }
}

variable "certificate_arn" {
  description = "An issued ACM certificate for domain_name. Empty: the module requests one and validates it in route53_zone_id."
  type        = string
  default     = ""
  validation {
    condition     = var.certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN, or empty."
  }
}

variable "allowed_client_cidrs" {
  description = "Networks allowed to reach the backend's HTTPS port (your office, VPN or 0.0.0.0/0). Users authenticate with API tokens either way."
  type        = list(string)
  validation {
    condition     = length(var.allowed_client_cidrs) > 0 && alltrue([for c in var.allowed_client_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_client_cidrs must be a non-empty list of CIDR blocks."
  }
}

# --- network -----------------------------------------------------------------------------

variable "create_vpc" {
  description = "Create a VPC (private subnets for hosts and tasks, public subnets for the load balancer, one NAT gateway for image builds and package downloads). false: use vpc_id and the subnet ids below."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  description = "CIDR of the VPC when create_vpc is true."
  type        = string
  default     = "10.40.0.0/16"
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a CIDR block of /20 or larger."
  }
}

variable "availability_zones" {
  description = "Zones for the created VPC's subnets (two or more for the load balancer and the database). Empty: the first two of the region."
  type        = list(string)
  default     = []
}

variable "create_nat_gateway" {
  description = "With create_vpc: one NAT gateway, needed by image builds (apt, CRAN) and by container-mode purposes. Hosts of baked images work with the VPC endpoints alone."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "Existing VPC (when create_vpc is false)."
  type        = string
  default     = ""
  validation {
    condition     = var.vpc_id == "" || can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id like vpc-0123abcd, or empty."
  }
}

variable "private_subnet_ids" {
  description = "Existing private subnets (when create_vpc is false): RStudio hosts, backend tasks, the database and the endpoints. One per zone you want to use; at least two zones for RDS."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids must be subnet ids."
  }
}

variable "public_subnet_ids" {
  description = "Existing public subnets for an internet-facing load balancer (when create_vpc is false and load_balancer_internal is false)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "public_subnet_ids must be subnet ids."
  }
}

variable "load_balancer_internal" {
  description = "true: the load balancer gets only private addresses (users reach it over VPN or Direct Connect); false: internet-facing in the public subnets."
  type        = bool
  default     = false
}

variable "create_vpc_endpoints" {
  description = "Create the interface endpoints (ssm, ssmmessages, ec2messages, logs and backend_endpoint_services) and the S3 gateway endpoint, so private subnets need no NAT. false if the VPC already has them."
  type        = bool
  default     = true
}

variable "backend_endpoint_services" {
  description = "Extra interface endpoints the backend tasks use (beyond the hosts' four). Remove those your VPC reaches through NAT."
  type        = list(string)
  default     = ["ec2", "ecr.api", "ecr.dkr", "secretsmanager", "sqs", "sts"]
}

# --- the backend service -----------------------------------------------------------------

variable "enable_backend_service" {
  description = "Run the backend on ECS Fargate behind the load balancer, with RDS PostgreSQL. false: only the network, IAM, events and images (run the backend elsewhere)."
  type        = bool
  default     = true
}

variable "backend_image" {
  description = "Container image of the backend (deploy/docker/Dockerfile). Empty: <the module's ECR repository>:<backend_image_tag>."
  type        = string
  default     = ""
}

variable "backend_image_tag" {
  description = "Tag pushed to the module's ECR repository when backend_image is empty."
  type        = string
  default     = "0.1.0"
}

variable "backend_desired_count" {
  description = "Backend tasks. Two survive a task or zone failure; the lifecycle lease makes one of them run the loop."
  type        = number
  default     = 2
  validation {
    condition     = var.backend_desired_count >= 1 && var.backend_desired_count <= 10
    error_message = "backend_desired_count must be between 1 and 10."
  }
}

variable "backend_cpu" {
  description = "Fargate CPU units per task (256, 512, 1024, 2048, 4096)."
  type        = number
  default     = 512
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.backend_cpu)
    error_message = "backend_cpu must be one of 256, 512, 1024, 2048, 4096."
  }
}

variable "backend_memory" {
  description = "Fargate memory per task in MiB (must suit backend_cpu)."
  type        = number
  default     = 1024
  validation {
    condition     = var.backend_memory >= 512 && var.backend_memory <= 30720
    error_message = "backend_memory must be between 512 and 30720 MiB."
  }
}

variable "enable_execute_command" {
  description = "ECS Exec into backend tasks: how the first user is created (output create_first_user_command). Who may use it is decided by ecs:ExecuteCommand in your IAM."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the backend's logs."
  type        = number
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "pool_max_instances" {
  description = "Hard cap on instances across all purposes."
  type        = number
  default     = 50
  validation {
    condition     = var.pool_max_instances >= 1
    error_message = "pool_max_instances must be at least 1."
  }
}

variable "purpose" {
  description = "The pool's RStudio purpose (the backend's YAML, ec2 section). Images come from the pipeline below: the newest AMI tagged image_tags."
  type = object({
    name                 = optional(string, "rstudio")
    description          = optional(string, "RStudio Server")
    min_free             = optional(number, 1)
    max                  = optional(number, 20)
    idle_timeout_seconds = optional(number, 3600)
    instance_types       = optional(list(string), ["m6i.large", "m5.large", "t3.large"])
    market               = optional(string, "spot")
    home_volume_gib      = optional(number, 20)
    cost_tags            = optional(map(string), {})
  })
  default = {}
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.purpose.name)) && contains(["spot", "on-demand"], var.purpose.market) && var.purpose.min_free <= var.purpose.max && length(var.purpose.instance_types) > 0
    error_message = "purpose: name lowercase with dashes, market spot or on-demand, min_free <= max, at least one instance type."
  }
}

# --- database ----------------------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class of the pool's PostgreSQL."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "16"
}

variable "db_allocated_storage" {
  description = "Database storage in GiB."
  type        = number
  default     = 20
  validation {
    condition     = var.db_allocated_storage >= 20
    error_message = "db_allocated_storage must be at least 20 GiB."
  }
}

variable "db_multi_az" {
  description = "A standby database in a second zone."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (set false before terraform destroy)."
  type        = bool
  default     = true
}

variable "db_skip_final_snapshot" {
  description = "Delete the database without a final snapshot on destroy (test stacks only)."
  type        = bool
  default     = false
}

variable "secret_recovery_window_days" {
  description = "Days a deleted database-URL secret can be restored (0: delete at once, test stacks only)."
  type        = number
  default     = 7
  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "db_password_version" {
  description = "Bump to rotate the database password: a new random one goes to RDS and to the URL secret (write-only, never in state)."
  type        = number
  default     = 1
}

# --- IAM ---------------------------------------------------------------------------------

variable "create_spot_service_linked_role" {
  description = "Create AWSServiceRoleForEC2Spot. An account has at most one: set false if it already exists (aws iam get-role --role-name AWSServiceRoleForEC2Spot)."
  type        = bool
  default     = true
}

# --- events, snapshots, images -----------------------------------------------------------

variable "enable_home_snapshots" {
  description = "Data Lifecycle Manager snapshots of users' home volumes (Role=home, Pool=<pool_name>)."
  type        = bool
  default     = true
}

variable "home_snapshot_time" {
  description = "UTC time of the daily home snapshot (HH:MM)."
  type        = string
  default     = "03:00"
  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.home_snapshot_time))
    error_message = "home_snapshot_time must be HH:MM (UTC)."
  }
}

variable "home_snapshot_retain_days" {
  description = "Days each daily home snapshot is kept."
  type        = number
  default     = 7
  validation {
    condition     = var.home_snapshot_retain_days >= 1 && var.home_snapshot_retain_days <= 1000
    error_message = "home_snapshot_retain_days must be between 1 and 1000."
  }
}

variable "enable_image_pipeline" {
  description = "EC2 Image Builder pipeline for the RStudio AMI (weekly and on demand) with a lifecycle policy removing old AMIs."
  type        = bool
  default     = true
}

variable "build_image_on_apply" {
  description = "Build the first AMI during terraform apply (about 40 minutes), so hosts can launch as soon as it ends. false: start it with start_image_build_command or wait for the schedule."
  type        = bool
  default     = true
}

variable "image_recipe_version" {
  description = "Semantic version of the image recipe. Bump it when you change components or R packages (Image Builder recipes are immutable); add the old one to image_retired_recipe_versions so its AMIs are cleaned up too."
  type        = string
  default     = "1.0.0"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.image_recipe_version))
    error_message = "image_recipe_version must be MAJOR.MINOR.PATCH."
  }
}

variable "image_retired_recipe_versions" {
  description = "Earlier recipe versions whose AMIs the lifecycle policy should still clean up."
  type        = list(string)
  default     = []
}

variable "image_schedule" {
  description = "When the pipeline rebuilds the image (EventBridge cron, UTC). Default: Sundays 04:00."
  type        = string
  default     = "cron(0 4 ? * sun *)"
  validation {
    condition     = can(regex("^cron\\(.+\\)$", var.image_schedule))
    error_message = "image_schedule must be a cron(...) expression."
  }
}

variable "image_keep_count" {
  description = "AMIs the lifecycle policy keeps per recipe version (newest first); older ones are deregistered and their snapshots deleted."
  type        = number
  default     = 3
  validation {
    condition     = var.image_keep_count >= 1 && var.image_keep_count <= 1000
    error_message = "image_keep_count must be between 1 and 1000."
  }
}

variable "image_tags" {
  description = "Tags on every AMI the pipeline makes; the purpose's imageFilter looks for them (with Pool=<pool_name>)."
  type        = map(string)
  default     = { Role = "rstudio" }
}

variable "image_build_instance_types" {
  description = "Instance types Image Builder builds on."
  type        = list(string)
  default     = ["m6i.large", "m5.large"]
}

variable "rstudio_server_version" {
  description = "RStudio Server version installed in the image (Posit's Ubuntu 22.04 package)."
  type        = string
  default     = "2024.12.1-563"
}

variable "r_packages" {
  description = "R packages baked into the image (binaries from Posit Package Manager)."
  type        = list(string)
  default     = ["data.table", "ggplot2", "dplyr", "IRkernel"]
  validation {
    condition     = alltrue([for p in var.r_packages : can(regex("^[A-Za-z][A-Za-z0-9.]*$", p))])
    error_message = "r_packages must be R package names."
  }
}

variable "tags" {
  description = "Extra tags on every resource (cost allocation)."
  type        = map(string)
  default     = {}
}
