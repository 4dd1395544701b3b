package storage

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset/datasetpb"
	"github.com/lakeplane/lakeplane/internal/fault"
)

// Handler serves StorageService over gRPC on top of a Service.
type Handler struct {
	lakeplanev1.UnimplementedStorageServiceServer
	svc *Service
}

var _ lakeplanev1.StorageServiceServer = (*Handler)(nil)

// NewHandler returns a Handler over svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// ListObjects implements lakeplanev1.StorageServiceServer.
func (h *Handler) ListObjects(ctx context.Context, req *lakeplanev1.ListObjectsRequest) (*lakeplanev1.ListObjectsResponse, error) {
	page, err := h.svc.List(ctx, req.GetPrefixUri(), req.GetRawPrefix(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListObjectsResponse{NextPageToken: page.NextPageToken}
	for _, o := range page.Objects {
		resp.Objects = append(resp.Objects, &lakeplanev1.ObjectInfo{Uri: o.URI, Size: o.Size, ModifyTime: timestamppb.New(o.ModifyTime), Etag: o.ETag})
	}
	return resp, nil
}

// DeletePrefix implements lakeplanev1.StorageServiceServer.
func (h *Handler) DeletePrefix(ctx context.Context, req *lakeplanev1.DeletePrefixRequest) (*lakeplanev1.DeletePrefixResponse, error) {
	res, err := h.svc.DeletePrefix(ctx, req.GetUri(), req.GetDryRun(), req.GetAllVersions())
	if err != nil && res.ObjectsDeleted == 0 {
		return nil, err
	}
	errs := errorsToProto(res.Errors)
	if err != nil {
		errs = append(errs, &lakeplanev1.ObjectError{Uri: req.GetUri(), Message: err.Error()})
	}
	return &lakeplanev1.DeletePrefixResponse{ObjectsDeleted: res.ObjectsDeleted, BytesDeleted: res.BytesDeleted, Errors: errs}, nil
}

// MoveObjects implements lakeplanev1.StorageServiceServer.
func (h *Handler) MoveObjects(ctx context.Context, req *lakeplanev1.MoveObjectsRequest) (*lakeplanev1.MoveObjectsResponse, error) {
	res, err := h.svc.Move(ctx, req.GetSourceUri(), req.GetDestinationUri())
	if err != nil && res.ObjectsMoved == 0 {
		return nil, err
	}
	errs := errorsToProto(res.Errors)
	if err != nil {
		errs = append(errs, &lakeplanev1.ObjectError{Uri: req.GetSourceUri(), Message: err.Error()})
	}
	return &lakeplanev1.MoveObjectsResponse{ObjectsMoved: res.ObjectsMoved, BytesMoved: res.BytesMoved, Errors: errs}, nil
}

// CountLines implements lakeplanev1.StorageServiceServer.
func (h *Handler) CountLines(ctx context.Context, req *lakeplanev1.CountLinesRequest) (*lakeplanev1.CountLinesResponse, error) {
	f, err := formatFromProto(req.GetFormat())
	if err != nil {
		return nil, err
	}
	res, err := h.svc.CountLines(ctx, req.GetUri(), req.GetCsv(), f)
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.CountLinesResponse{Lines: res.Lines, Bytes: res.Bytes, Objects: res.Objects}, nil
}

// Grep implements lakeplanev1.StorageServiceServer: each batch of matches
// is one message of the stream; with count_only, each object's count is.
func (h *Handler) Grep(req *lakeplanev1.GrepRequest, stream grpc.ServerStreamingServer[lakeplanev1.GrepResponse]) error {
	if req.GetCountOnly() {
		return h.svc.GrepCounts(stream.Context(), req.GetUri(), req.GetPattern(), func(c GrepCount) error {
			return stream.Send(&lakeplanev1.GrepResponse{Counts: []*lakeplanev1.GrepCount{
				{Uri: c.URI, MatchingLines: c.MatchingLines, BytesRead: c.BytesRead},
			}})
		})
	}
	return h.svc.Grep(stream.Context(), req.GetUri(), req.GetPattern(), req.GetMaxMatches(), func(ms []Match) error {
		resp := &lakeplanev1.GrepResponse{Matches: make([]*lakeplanev1.GrepMatch, len(ms))}
		for i, m := range ms {
			resp.Matches[i] = &lakeplanev1.GrepMatch{Uri: m.URI, Line: m.Line, Text: m.Text}
		}
		return stream.Send(resp)
	})
}

// DiscoverSchema implements lakeplanev1.StorageServiceServer.
func (h *Handler) DiscoverSchema(ctx context.Context, req *lakeplanev1.DiscoverSchemaRequest) (*lakeplanev1.DiscoverSchemaResponse, error) {
	f, err := formatFromProto(req.GetFormat())
	if err != nil {
		return nil, err
	}
	if req.GetFormat().GetDelimiter() == "" {
		f.Delimiter = 0 // detect
	}
	d, err := h.svc.DiscoverSchema(ctx, req.GetUri(), f, req.GetSampleRows())
	if err != nil {
		return nil, err
	}
	p := datasetpb.ToProto(d.Dataset)
	header := !d.Format.NoHeader
	return &lakeplanev1.DiscoverSchemaResponse{
		Dataset: p,
		Format: &lakeplanev1.CsvFormat{
			Delimiter:       string(rune(d.Format.Delimiter)),
			Header:          &header,
			Quote:           string(rune(d.Format.quote())),
			Encoding:        lakeplanev1.Encoding(lakeplanev1.Encoding_value[d.Format.Encoding.String()]),
			NullValues:      d.Format.NullValues,
			DateFormat:      d.Format.DateFormat,
			TimestampFormat: d.Format.TimestampFormat,
		},
		Warnings: d.Warnings,
	}, nil
}

// formatFromProto converts a request's format; nil is the default.
func formatFromProto(p *lakeplanev1.CsvFormat) (Format, error) {
	var f Format
	if p == nil {
		return f, nil
	}
	for _, c := range []struct {
		field string
		v     string
		dst   *byte
	}{{"format.delimiter", p.GetDelimiter(), &f.Delimiter}, {"format.quote", p.GetQuote(), &f.Quote}} {
		switch {
		case c.v == "":
		case len(c.v) != 1:
			return Format{}, fault.Invalid(c.field, "%q must be one ASCII character", c.v)
		default:
			*c.dst = c.v[0]
		}
	}
	f.NoHeader = p.Header != nil && !p.GetHeader()
	switch p.GetEncoding() {
	case lakeplanev1.Encoding_ENCODING_UNSPECIFIED:
	case lakeplanev1.Encoding_UTF8:
		f.Encoding, f.EncodingSet = csvstream.UTF8, true
	case lakeplanev1.Encoding_CP949:
		f.Encoding, f.EncodingSet = csvstream.CP949, true
	case lakeplanev1.Encoding_EUC_KR:
		f.Encoding, f.EncodingSet = csvstream.EUCKR, true
	default:
		return Format{}, fault.Invalid("format.encoding", "unknown encoding %d", p.GetEncoding())
	}
	f.NullValues = p.GetNullValues()
	f.DateFormat, f.TimestampFormat = p.GetDateFormat(), p.GetTimestampFormat()
	return f, nil
}

// errorsToProto converts per-object errors.
func errorsToProto(errs []ObjectError) []*lakeplanev1.ObjectError {
	out := make([]*lakeplanev1.ObjectError, len(errs))
	for i, e := range errs {
		out[i] = &lakeplanev1.ObjectError{Uri: e.URI, Message: e.Message}
	}
	return out
}
