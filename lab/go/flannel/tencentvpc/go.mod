// Stands in for github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc, whose zip the Go module proxy refuses
// (403 "This module version is not available"). Only flannel's tencent-vpc backend imports it; see ../README.md.
module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc

go 1.21
