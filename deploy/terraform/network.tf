# The network: an existing VPC (or one made here), the hosts' security group with no inbound
# rules, and the endpoints that let private subnets reach SSM, logs and S3 without NAT.

data "aws_availability_zones" "available" {
  count = var.create_vpc && length(var.availability_zones) == 0 ? 1 : 0
  state = "available"
}

locals {
  zones = var.create_vpc ? (length(var.availability_zones) > 0 ? var.availability_zones : slice(data.aws_availability_zones.available[0].names, 0, 2)) : []

  vpc_id             = var.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  private_subnet_ids = var.create_vpc ? aws_subnet.private[*].id : var.private_subnet_ids
  public_subnet_ids  = var.create_vpc ? aws_subnet.public[*].id : var.public_subnet_ids
  # The load balancer lives in the private subnets when internal, else in the public ones.
  lb_subnet_ids = var.load_balancer_internal ? local.private_subnet_ids : local.public_subnet_ids

  host_endpoint_services = ["ssm", "ssmmessages", "ec2messages", "logs"]
  endpoint_services      = var.create_vpc_endpoints ? toset(concat(local.host_endpoint_services, var.enable_backend_service ? var.backend_endpoint_services : [])) : toset([])
}

# --- an optional VPC ---------------------------------------------------------------------

resource "aws_vpc" "this" {
  count                = var.create_vpc ? 1 : 0
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # interface endpoints with private DNS need both
  tags                 = { Name = local.name }
}

resource "aws_subnet" "private" {
  count             = length(local.zones)
  vpc_id            = aws_vpc.this[0].id
  availability_zone = local.zones[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index)
  tags              = { Name = "${local.name}-private-${local.zones[count.index]}", Tier = "private" }
}

resource "aws_subnet" "public" {
  count             = length(local.zones)
  vpc_id            = aws_vpc.this[0].id
  availability_zone = local.zones[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)
  # Nothing launched here gets a public address by default; the load balancer asks for its own.
  map_public_ip_on_launch = false
  tags                    = { Name = "${local.name}-public-${local.zones[count.index]}", Tier = "public" }
}

resource "aws_internet_gateway" "this" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = { Name = local.name }
}

resource "aws_route_table" "public" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = { Name = "${local.name}-public" }
}

resource "aws_route" "public_internet" {
  count                  = var.create_vpc ? 1 : 0
  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count          = length(aws_subnet.public)
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count  = var.create_vpc && var.create_nat_gateway ? 1 : 0
  domain = "vpc"
  tags   = { Name = "${local.name}-nat" }
}

resource "aws_nat_gateway" "this" {
  count         = var.create_vpc && var.create_nat_gateway ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = { Name = local.name }
  depends_on    = [aws_internet_gateway.this]
}

resource "aws_route_table" "private" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = { Name = "${local.name}-private" }
}

resource "aws_route" "private_nat" {
  count                  = var.create_vpc && var.create_nat_gateway ? 1 : 0
  route_table_id         = aws_route_table.private[0].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

resource "aws_route_table_association" "private" {
  count          = length(aws_subnet.private)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

# Route tables of the private subnets, for the S3 gateway endpoint.
data "aws_route_table" "private" {
  count     = var.create_vpc || !var.create_vpc_endpoints ? 0 : length(var.private_subnet_ids)
  subnet_id = var.private_subnet_ids[count.index]
}

locals {
  private_route_table_ids = var.create_vpc ? aws_route_table.private[*].id : distinct(data.aws_route_table.private[*].id)
}

# --- security groups ---------------------------------------------------------------------

# RStudio hosts: no inbound rule at all. Users reach RStudio only through SSM sessions, and
# RStudio listens on loopback anyway. Outbound HTTPS for the agent, apt/CRAN over HTTP(S).
resource "aws_security_group" "hosts" {
  name        = "${local.name}-hosts"
  description = "RStudio Pool hosts: no inbound; outbound HTTP(S)"
  vpc_id      = local.vpc_id
  tags        = { Name = "${local.name}-hosts" }
}

resource "aws_vpc_security_group_egress_rule" "hosts_https" {
  security_group_id = aws_security_group.hosts.id
  description       = "SSM agent, endpoints, package mirrors"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "hosts_http" {
  security_group_id = aws_security_group.hosts.id
  description       = "Package mirrors that serve plain HTTP (apt), through NAT where there is one"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

# The interface endpoints accept HTTPS from the VPC only.
resource "aws_security_group" "endpoints" {
  count       = var.create_vpc_endpoints ? 1 : 0
  name        = "${local.name}-endpoints"
  description = "RStudio Pool VPC interface endpoints: HTTPS from the VPC"
  vpc_id      = local.vpc_id
  tags        = { Name = "${local.name}-endpoints" }
}

data "aws_vpc" "selected" {
  id = local.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count             = var.create_vpc_endpoints ? 1 : 0
  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = data.aws_vpc.selected.cidr_block
}

# --- endpoints ---------------------------------------------------------------------------

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.endpoint_services
  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.private_subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
  tags                = { Name = "${local.name}-${each.key}" }
}

resource "aws_vpc_endpoint" "s3" {
  count             = var.create_vpc_endpoints ? 1 : 0
  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.private_route_table_ids
  tags              = { Name = "${local.name}-s3" }
}
