// Edge detector as a model generated it: `rise` and `count` are right, `fall` is
// wrong (it forgets the previous value and is high whenever `in` is low).
module edge_detect (
    input  wire       clk,
    input  wire       rst_n,
    input  wire       in,
    output wire       rise,
    output wire       fall,
    output reg  [7:0] count
);
    reg prev;

    always @(posedge clk or negedge rst_n)
        if (!rst_n) prev <= 1'b0;
        else        prev <= in;

    assign rise = in & ~prev;
    // falling edge
    assign fall = ~in;

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n)
            count <= 8'd0;
        else if (rise)
            count <= count + 8'd1;
    end
endmodule
