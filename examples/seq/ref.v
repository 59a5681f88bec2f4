// Edge detector with asynchronous active-low reset (reference).
// `rise` is high for the cycle after `in` goes 0 -> 1, `fall` after 1 -> 0;
// `count` counts the rising edges seen since reset.
module edge_detect (
    input  wire       clk,
    input  wire       rst_n,
    input  wire       in,
    output wire       rise,
    output wire       fall,
    output reg  [7:0] count
);
    reg prev;   // `in` one cycle ago

    always @(posedge clk or negedge rst_n)
        if (!rst_n) prev <= 1'b0;
        else        prev <= in;

    assign rise = in & ~prev;
    assign fall = ~in & prev;

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n)
            count <= 8'd0;
        else if (rise)
            count <= count + 8'd1;
    end
endmodule
