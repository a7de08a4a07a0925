// Package store keeps images and containers with containers/storage.
package store
