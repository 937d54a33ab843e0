package store

import "strings"

// insertFix names what an operator can do about an insert error that
// retrying alone will not cure; "" when there is nothing to add.
func insertFix(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "NOT_ENOUGH_SPACE") || strings.Contains(msg, "No space left") {
		return "ClickHouse's disk is full: free space on it (or shorten retention.*); the batch is held and stored once there is room"
	}
	return ""
}
