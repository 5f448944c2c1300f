// Package v20170312 has the shape flannel's tencent-vpc backend (pkg/backend/tencentvpc) compiles against, and
// nothing behind it: the Go module proxy refuses the real Tencent Cloud VPC SDK, and the lab never runs that backend
// (it uses vxlan). Every call fails with ErrUnavailable, so a net-conf.json asking for "tencent-vpc" makes flanneld
// stop with a message that says why, instead of pretending to program a cloud route table.
package v20170312

import "errors"

// ErrUnavailable is what every API call returns.
var ErrUnavailable = errors.New("the tencent-vpc backend is not in this flanneld: the Go module proxy refuses " +
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc, so kubeadm2ha's lab build replaces it with a stub")

type Filter struct {
	Name   *string
	Values []*string
}

type Route struct {
	RouteId              *uint64
	DestinationCidrBlock *string
	GatewayType          *string
	GatewayId            *string
	RouteType            *string
	Enabled              *bool
}

type RouteTable struct {
	RouteTableId *string
	RouteSet     []*Route
}

type DescribeRouteTablesRequest struct{ Filters []*Filter }

type DescribeRouteTablesResponse struct {
	Response *struct{ RouteTableSet []*RouteTable }
}

type DeleteRoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

type DeleteRoutesResponse struct{}

type CreateRoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

type CreateRoutesResponse struct{}

// Client answers every call with ErrUnavailable.
type Client struct{}

func NewClientWithSecretId(secretID, secretKey, region string) (*Client, error) {
	return &Client{}, nil
}

func NewDescribeRouteTablesRequest() *DescribeRouteTablesRequest {
	return &DescribeRouteTablesRequest{}
}
func NewDeleteRoutesRequest() *DeleteRoutesRequest { return &DeleteRoutesRequest{} }
func NewCreateRoutesRequest() *CreateRoutesRequest { return &CreateRoutesRequest{} }

func (*Client) DescribeRouteTables(*DescribeRouteTablesRequest) (*DescribeRouteTablesResponse, error) {
	return nil, ErrUnavailable
}

func (*Client) DeleteRoutes(*DeleteRoutesRequest) (*DeleteRoutesResponse, error) {
	return nil, ErrUnavailable
}

func (*Client) CreateRoutes(*CreateRoutesRequest) (*CreateRoutesResponse, error) {
	return nil, ErrUnavailable
}
